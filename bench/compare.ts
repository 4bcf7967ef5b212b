// Side-by-side comparison of theta and its peers, in one process on this machine.
//
//   npx --yes deno@2.9.6 run --allow-read --allow-env bench/compare.ts [section ...]
//
// Sections: queue. Each figure is the median of ROUNDS runs; ratios are theta / peer.
import { EvictingQueue } from "../queue.ts";
import { RingBuffer } from "ringbuf.js";
import type { ProducerJob } from "./_queue_producer.ts";

const ROUNDS = 5;
const QUEUE_ITEMS = 500_000;
const POST_MESSAGE_ITEMS = 100_000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function format(rate: number): string {
  return rate >= 1e6 ? `${(rate / 1e6).toFixed(2)} M/s` : `${(rate / 1e3).toFixed(1)} k/s`;
}

/** Starts a producer worker and resolves once it is ready, so startup is not measured. */
async function producer(job: Omit<ProducerJob, "start">): Promise<{
  worker: Worker;
  go: () => number;
}> {
  const start = new SharedArrayBuffer(4);
  const worker = new Worker(new URL("./_queue_producer.ts", import.meta.url), { type: "module" });
  const ready = new Promise<void>((resolve) => {
    worker.onmessage = () => resolve();
  });
  worker.postMessage({ ...job, start });
  await ready;
  return {
    worker,
    go: () => {
      const flag = new Int32Array(start);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      return performance.now();
    },
  };
}

async function thetaQueue(kind: ProducerJob["kind"]): Promise<number> {
  const queue = new EvictingQueue<unknown>();
  const { worker, go } = await producer({
    transport: "theta",
    kind,
    count: QUEUE_ITEMS,
    queue: queue.handle,
  });
  const started = go();
  for (let i = 0; i < QUEUE_ITEMS; i++) queue.get();
  const rate = QUEUE_ITEMS / ((performance.now() - started) / 1000);
  worker.terminate();
  return rate;
}

async function postMessageQueue(kind: ProducerJob["kind"]): Promise<number> {
  const { worker, go } = await producer({
    transport: "postMessage",
    kind,
    count: POST_MESSAGE_ITEMS,
  });
  let received = 0;
  const done = new Promise<void>((resolve) => {
    worker.onmessage = () => {
      if (++received === POST_MESSAGE_ITEMS) resolve();
    };
  });
  const started = go();
  await done;
  const rate = POST_MESSAGE_ITEMS / ((performance.now() - started) / 1000);
  worker.terminate();
  return rate;
}

async function ringbufQueue(): Promise<number> {
  const ring = RingBuffer.getStorageForCapacity(4096, Float64Array);
  const buffer = new RingBuffer(ring, Float64Array);
  const { worker, go } = await producer({
    transport: "ringbuf",
    kind: "number",
    count: QUEUE_ITEMS,
    ring,
  });
  const one = new Float64Array(1);
  const started = go();
  for (let received = 0; received < QUEUE_ITEMS;) received += buffer.pop(one);
  const rate = QUEUE_ITEMS / ((performance.now() - started) / 1000);
  worker.terminate();
  return rate;
}

async function measure(run: () => Promise<number>): Promise<number> {
  const rates: number[] = [];
  for (let i = 0; i < ROUNDS; i++) rates.push(await run());
  return median(rates);
}

async function queueSection(): Promise<void> {
  console.log(`\n## Queue: items/s from one worker to the main thread (median of ${ROUNDS})\n`);
  const thetaNumbers = await measure(() => thetaQueue("number"));
  const thetaObjects = await measure(() => thetaQueue("object"));
  const postNumbers = await measure(() => postMessageQueue("number"));
  const postObjects = await measure(() => postMessageQueue("object"));
  const ringbuf = await measure(ringbufQueue);
  console.log("| transport | numbers | small objects | theta / it (numbers) |");
  console.log("|---|---|---|---|");
  console.log(
    `| theta EvictingQueue | ${format(thetaNumbers)} | ${format(thetaObjects)} | 1.00x |`,
  );
  console.log(
    `| postMessage | ${format(postNumbers)} | ${format(postObjects)} | ${
      (thetaNumbers / postNumbers).toFixed(1)
    }x |`,
  );
  console.log(
    `| ringbuf.js 0.4.0 (Float64, SPSC) | ${format(ringbuf)} | n/a | ${
      (thetaNumbers / ringbuf).toFixed(2)
    }x |`,
  );
}

const sections: Record<string, () => Promise<void>> = { queue: queueSection };
const wanted = Deno.args.length > 0 ? Deno.args : Object.keys(sections);
console.log(
  `# theta vs peers — Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, ${
    new Date().toISOString().slice(0, 10)
  }`,
);
for (const name of wanted) {
  const section = sections[name];
  if (section === undefined) throw new RangeError(`Cannot run section "${name}": unknown`);
  await section();
}
