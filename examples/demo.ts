// A short tour of theta: `npx --yes deno@2.9.6 task demo`.
import { EvictingQueue } from "../mod.ts";

function heading(title: string): void {
  console.log(`\n== ${title}`);
}

heading("EvictingQueue: a worker produces, the main thread consumes with blocking gets");
{
  const count = 1_000_000;
  const queue = new EvictingQueue<number>();
  const worker = new Worker(new URL("./_demo_producer.ts", import.meta.url), { type: "module" });
  worker.postMessage({ handle: queue.handle, count });
  const started = performance.now();
  let received = 0;
  let expected = 0;
  for (const item of queue) {
    if (item !== expected++) throw new Error(`out of order: ${item}`);
    received++;
  }
  const seconds = (performance.now() - started) / 1000;
  worker.terminate();
  console.log(
    `received ${received.toLocaleString()} of ${count.toLocaleString()} items in order, ` +
      `${(received / seconds / 1e6).toFixed(2)} M items/s (worker startup included), nothing lost`,
  );
}

heading("EvictingQueue(5): puts never block, the oldest items are evicted");
{
  const queue = new EvictingQueue<number>(5);
  for (let i = 0; i < 8; i++) queue.put(i);
  console.log(`flush() -> [${queue.flush().join(", ")}], stats ${JSON.stringify(queue.stats)}`);
}
