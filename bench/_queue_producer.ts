// Producer worker for bench/compare.ts: sends `warmup` items to the main thread through the
// transport under test once the start flag is 1, then `count` items once it is 2. The warm-up
// phase compiles both sides' paths before the timed one, for every transport alike: a queue in
// use runs warm, and a fresh worker's first few milliseconds measure its JIT instead.
import { RingBuffer } from "ringbuf.js";
import { EvictingQueue } from "../queue.ts";
import { type ChannelEndHandle, ChannelWriter } from "../channel.ts";

export interface ProducerJob {
  transport:
    | "theta"
    | "thetaBatch"
    | "thetaBatchTyped"
    | "channel"
    | "postMessage"
    | "ringbuf"
    | "ringbufBatch";
  kind: "number" | "object";
  /** Items of the untimed phase, sent first. */
  warmup: number;
  /** Items of the timed phase. */
  count: number;
  start: SharedArrayBuffer;
  queue?: EvictingQueue<unknown>["handle"];
  ring?: SharedArrayBuffer;
  writer?: ChannelEndHandle;
}

/** Items per batch in the batched transports. */
export const BATCH = 256;

const scope = self as unknown as {
  onmessage: (event: MessageEvent<ProducerJob>) => void;
  postMessage: (message: unknown) => void;
};

scope.onmessage = ({ data: job }) => {
  const start = new Int32Array(job.start);
  scope.postMessage("ready");
  Atomics.wait(start, 0, 0);
  const send = transport(job);
  send(0, job.warmup);
  Atomics.wait(start, 0, 1);
  send(job.warmup, job.count);
  if (job.transport === "channel") ChannelWriter.from<unknown>(job.writer!).close();
};

/** The job's transport, as a function that sends items `from`, `from + 1`, ... (`count` of them). */
function transport(job: ProducerJob): (from: number, count: number) => void {
  const item = (i: number): unknown =>
    job.kind === "number" ? i : { id: i, name: "item", ok: true, score: i / 2 };
  if (job.transport === "theta") {
    const queue = EvictingQueue.from<unknown>(job.queue!);
    return (from, count) => {
      for (let i = from; i < from + count; i++) queue.put(item(i));
    };
  } else if (job.transport === "thetaBatch") {
    const queue = EvictingQueue.from<unknown>(job.queue!);
    const batch = new Array<unknown>(BATCH);
    return (from, count) => {
      for (let i = from; i < from + count; i += BATCH) {
        // Filled like ringbuf.js's batch below: the producer's own work is not what is measured.
        if (job.kind === "number") { for (let j = 0; j < BATCH; j++) batch[j] = i + j; }
        else for (let j = 0; j < BATCH; j++) batch[j] = item(i + j);
        queue.putMany(batch);
      }
    };
  } else if (job.transport === "thetaBatchTyped") {
    const queue = EvictingQueue.from<unknown>(job.queue!);
    const batch = new Float64Array(BATCH);
    return (from, count) => {
      for (let i = from; i < from + count; i += BATCH) {
        for (let j = 0; j < BATCH; j++) batch[j] = i + j;
        queue.putMany(batch);
      }
    };
  } else if (job.transport === "ringbufBatch") {
    const ring = new RingBuffer(job.ring!, Float64Array);
    const batch = new Float64Array(BATCH);
    return (from, count) => {
      for (let i = from; i < from + count; i += BATCH) {
        for (let j = 0; j < BATCH; j++) batch[j] = i + j;
        let sent = 0;
        while (sent < BATCH) sent += ring.push(batch.subarray(sent));
      }
    };
  } else if (job.transport === "channel") {
    const writer = ChannelWriter.from<unknown>(job.writer!);
    return (from, count) => {
      for (let i = from; i < from + count; i++) writer.write(item(i));
    };
  } else if (job.transport === "postMessage") {
    return (from, count) => {
      for (let i = from; i < from + count; i++) scope.postMessage(item(i));
    };
  }
  const ring = new RingBuffer(job.ring!, Float64Array);
  const one = new Float64Array(1);
  return (from, count) => {
    for (let i = from; i < from + count; i++) {
      one[0] = i;
      while (ring.push(one) === 0) { /* full: spin */ }
    }
  };
}
