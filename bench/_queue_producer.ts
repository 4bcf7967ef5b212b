// Producer worker for bench/compare.ts: waits for the start flag, then sends `count` items to the
// main thread through the transport under test.
import { RingBuffer } from "ringbuf.js";
import { EvictingQueue } from "../queue.ts";
import { type ChannelEndHandle, ChannelWriter } from "../channel.ts";

export interface ProducerJob {
  transport: "theta" | "channel" | "postMessage" | "ringbuf";
  kind: "number" | "object";
  count: number;
  start: SharedArrayBuffer;
  queue?: EvictingQueue<unknown>["handle"];
  ring?: SharedArrayBuffer;
  writer?: ChannelEndHandle;
}

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
