// Many waiters at once: async writers on a full one-item channel (with no signal, all under one
// AbortSignal, and each with its own signal, aborted one per event-loop turn), and async readers
// of an empty queue. Run:
//   deno run --allow-read --allow-env bench/waiters.ts
import { channel } from "../channel.ts";
import { EvictingQueue } from "../queue.ts";
import { MacrotaskYielder } from "../_futex.ts";

const COUNTS = [1000, 4000, 16000];

/** Milliseconds for `count` async writes to a one-item channel to be read, all started at once. */
async function writers(count: number, signal?: AbortSignal): Promise<number> {
  const [writer, reader] = channel<number>({ size: 1 });
  const started = performance.now();
  const writes = Array.from(
    { length: count },
    (_, i) => writer.writeAsync(i, signal === undefined ? {} : { signal }),
  );
  let read = 0;
  for await (const _ of reader) if (++read === count) break;
  await Promise.all(writes);
  return performance.now() - started;
}

/**
 * Milliseconds to abort `count` async writers waiting on a full one-item channel, each with its
 * own signal, one per event-loop turn (as timeouts of their own would): the waiters still
 * waiting get a turn to run between two aborts.
 */
async function aborted(count: number): Promise<number> {
  const [writer] = channel<number>({ size: 1 });
  writer.write(0);
  const controllers = Array.from({ length: count }, () => new AbortController());
  const writes = controllers.map((controller, i) =>
    writer.writeAsync(i, { signal: controller.signal }).catch(() => {})
  );
  // One event-loop turn per abort (a MessageChannel message: timers are clamped to 1 ms).
  const yielder = new MacrotaskYielder();
  const started = performance.now();
  for (const controller of controllers) {
    controller.abort();
    await yielder.next();
  }
  await Promise.all(writes);
  const elapsed = performance.now() - started;
  yielder.close();
  writer.close();
  return elapsed;
}

/** Milliseconds for `count` waiting getAsync calls to get the items then put. */
async function readers(count: number): Promise<number> {
  const queue = new EvictingQueue<number>();
  const gets = Array.from({ length: count }, () => queue.getAsync());
  const started = performance.now();
  for (let i = 0; i < count; i++) queue.put(i);
  await Promise.all(gets);
  return performance.now() - started;
}

console.log("\n## Many waiters at once\n");
console.log(
  "| waiters | channel writers | the same under one signal | each its own signal, aborted one per turn | queue readers |",
);
console.log("|---|---|---|---|---|");
for (const count of COUNTS) {
  const plain = await writers(count);
  const signalled = await writers(count, new AbortController().signal);
  const aborting = await aborted(count);
  const reading = await readers(count);
  console.log(
    `| ${count} | ${plain.toFixed(0)} ms | ${signalled.toFixed(0)} ms | ${
      aborting.toFixed(0)
    } ms | ${reading.toFixed(0)} ms |`,
  );
}
