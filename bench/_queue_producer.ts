// Producer worker for bench/compare.ts: waits for the start flag, then sends `count` items to the
// main thread through the transport under test.
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
  const item = (i: number): unknown =>
    job.kind === "number" ? i : { id: i, name: "item", ok: true, score: i / 2 };
  if (job.transport === "theta") {
    const queue = EvictingQueue.from<unknown>(job.queue!);
    for (let i = 0; i < job.count; i++) queue.put(item(i));
  } else if (job.transport === "thetaBatch") {
    const queue = EvictingQueue.from<unknown>(job.queue!);
    const batch = new Array<unknown>(BATCH);
    for (let i = 0; i < job.count; i += BATCH) {
      // Filled like ringbuf.js's batch below: the producer's own work is not what is measured.
      if (job.kind === "number") { for (let j = 0; j < BATCH; j++) batch[j] = i + j; }
      else for (let j = 0; j < BATCH; j++) batch[j] = item(i + j);
      queue.putMany(batch);
    }
  } else if (job.transport === "thetaBatchTyped") {
    const queue = EvictingQueue.from<unknown>(job.queue!);
    const batch = new Float64Array(BATCH);
    for (let i = 0; i < job.count; i += BATCH) {
      for (let j = 0; j < BATCH; j++) batch[j] = i + j;
      queue.putMany(batch);
    }
  } else if (job.transport === "ringbufBatch") {
    const ring = new RingBuffer(job.ring!, Float64Array);
    const batch = new Float64Array(BATCH);
    for (let i = 0; i < job.count; i += BATCH) {
      for (let j = 0; j < BATCH; j++) batch[j] = i + j;
      let sent = 0;
      while (sent < BATCH) sent += ring.push(batch.subarray(sent));
    }
  } else if (job.transport === "channel") {
    const writer = ChannelWriter.from<unknown>(job.writer!);
    for (let i = 0; i < job.count; i++) writer.write(item(i));
    writer.close();
  } else if (job.transport === "postMessage") {
    for (let i = 0; i < job.count; i++) scope.postMessage(item(i));
  } else {
    const ring = new RingBuffer(job.ring!, Float64Array);
    const one = new Float64Array(1);
    for (let i = 0; i < job.count; i++) {
      one[0] = i;
      while (ring.push(one) === 0) { /* full: spin */ }
    }
  }
};
