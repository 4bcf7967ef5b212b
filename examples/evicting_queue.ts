// theta's EvictingQueue seed examples: blocking gets, evicting puts, iteration that ends on stop
// or on a timeout between items, separate timeout and stop handling, and flushing as a buffer.
// Run: npx --yes deno@2.9.6 run examples/evicting_queue.ts
import { EvictingQueue, QueueStopped, QueueTimeout, StoppableThread } from "../mod.ts";

const q = new EvictingQueue<number>(5);
for (let i = 0; i < 8; i++) q.put(i); // puts never block: 0, 1 and 2 are evicted
const firstItem = q.get();
console.log("first item", firstItem, "then", [...q.iterTimeout(10)]); // ends after 10 ms idle

// A producer thread; the main thread reads with blocking gets, handling timeout and stop apart.
const producer = new StoppableThread((_thread, q: EvictingQueue<number>) => {
  for (let i = 0; i < 3; i++) q.put(i * 10);
  q.stop();
}, { args: [q] }).start();
const seen: number[] = [];
for (;;) {
  try {
    seen.push(q.get(100));
  } catch (error) {
    if (error instanceof QueueTimeout) continue; // handle_timeout()
    if (error instanceof QueueStopped) break; // cleanup()
    throw error;
  }
}
await producer.join();
console.log("received until stopped", seen);

// As a buffer: another thread puts; flush() takes everything there is.
const buffer = new EvictingQueue<string>();
buffer.put("a");
buffer.put("b");
console.log("flushed", buffer.flush(), "empty:", buffer.empty());
