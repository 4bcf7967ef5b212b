// For pool_test.ts: a pool task blocked in Atomics.wait must not keep the process alive once
// the pool ended its worker. Run as `deno run -A pool_exits.ts <scenario>`; prints "done".
import { EvictingQueue } from "../queue.ts";
import { Pool } from "../pool.ts";
import { Event } from "../sync.ts";

const scenario = Deno.args[0];
const pool = new Pool({ size: 1 });
const started = new Event();
if (scenario === "terminate-queue") {
  // terminate() while the task blocks in get() on a shared queue.
  const queue = new EvictingQueue<number>();
  const task = pool.run((q: EvictingQueue<number>, s: Event) => {
    s.set();
    return q.get();
  }, [queue, started]);
  await started.waitAsync();
  await pool.terminate();
  console.log("task:", await task.catch((error) => error.name));
} else if (scenario === "abort-typed-array") {
  // abort while the task blocks in Atomics.wait on a typed-array argument.
  const word = new Int32Array(new SharedArrayBuffer(8), 4, 1);
  const controller = new AbortController();
  const task = pool.run(
    (w: Int32Array, s: Event) => {
      s.set();
      return Atomics.wait(w, 0, 0);
    },
    [word, started],
    { signal: controller.signal },
  );
  await started.waitAsync();
  controller.abort(new Error("aborted"));
  console.log("task:", await task.catch((error) => error.message));
  await pool.close();
} else {
  throw new Error(`unknown scenario ${scenario}`);
}
console.log("done");
