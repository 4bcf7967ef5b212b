// For thread_test.ts and pool_test.ts: workers blocked in Atomics.wait on a shared queue are
// ended by terminate() / a task timeout, and the process exits (Deno waits for worker threads).
import { EvictingQueue } from "../queue.ts";
import { StoppableThread } from "../thread.ts";
import { Pool } from "../pool.ts";

const queue = new EvictingQueue<number>();
const thread = new StoppableThread((_t, q: EvictingQueue<number>) => q.get(), { args: [queue] })
  .start();
await new Promise((resolve) => setTimeout(resolve, 100)); // let it block in get()
thread.terminate();
await thread.join().catch((error) => console.log("thread:", error.name));

const pool = new Pool({ size: 1 });
await pool.run((q: EvictingQueue<number>) => q.get(), [queue], { timeout: 100 })
  .catch((error) => console.log("pool task:", error.name));
await pool.close();
console.log("done");
