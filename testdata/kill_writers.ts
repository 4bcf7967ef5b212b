// For queue_test.ts: 20 times, a writer thread putting into a shared evicting queue (and a
// channel) under contention is terminated; afterwards the main thread and a new thread can still
// put and get. Prints "ok" lines; a hang is the failure (the test kills this process).
import { EvictingQueue } from "../queue.ts";
import { channel, type ChannelWriter } from "../channel.ts";
import { StoppableThread } from "../thread.ts";

const queue = new EvictingQueue<number>(8); // full most of the time: puts evict under both locks
const [writer, reader] = channel<number>({ size: 8 });
for (let round = 0; round < 20; round++) {
  const writers = [0, 1].map(() =>
    new StoppableThread((_t, q: EvictingQueue<number>, w: ChannelWriter<number>) => {
      for (let i = 0;; i++) {
        q.put(i);
        try {
          w.write(i, { timeout: 1 });
        } catch { /* full: the reader is slow; keep going */ }
      }
    }, { args: [queue, writer] }).start()
  );
  // Let them contend, draining the channel so its writers keep moving.
  const until = performance.now() + 20;
  while (performance.now() < until) {
    try {
      queue.get(1);
      reader.read(4, { timeout: 1 });
    } catch { /* nothing yet */ }
  }
  for (const thread of writers) thread.terminate();
  await Promise.all(writers.map((thread) => thread.join().catch(() => {})));
}
console.log("killed 40 writers");
// Pool tasks putting in a loop, timed out: their workers are ended the same way.
{
  const { Pool } = await import("../pool.ts");
  await using pool = new Pool({ size: 2 });
  for (let round = 0; round < 10; round++) {
    const tasks = [0, 1].map(() =>
      pool.run(
        (q: EvictingQueue<number>) => {
          for (let i = 0;; i++) q.put(i);
        },
        [queue],
        { timeout: 10 },
      ).catch(() => {})
    );
    const until = performance.now() + 10;
    while (performance.now() < until) {
      try {
        queue.get(1);
      } catch { /* nothing yet */ }
    }
    await Promise.all(tasks);
  }
}
console.log("timed out 20 pool tasks");
queue.put(-1); // documented never to block
console.log("main put ok");
const late = new StoppableThread((_t, q: EvictingQueue<number>) => {
  q.put(-2);
  return q.flush().length;
}, { args: [queue] }).start();
console.log("worker put ok", (await late.join()) > 0);
try {
  reader.read(8, { timeout: 100 }); // the killed writers may have left it full: drain, then write
} catch { /* it was empty */ }
writer.write(-3, { timeout: 2000 });
console.log("channel write ok");
Deno.exit(0);
