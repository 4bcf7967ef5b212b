// A worker for queue_test.ts: produces into, or consumes from, a shared EvictingQueue.
import { EvictingQueue } from "../queue.ts";

export type QueueJob =
  | {
    op: "produce";
    handle: EvictingQueue<[number, number]>["handle"];
    producer: number;
    count: number;
    /** Int32 counter of finished producers; the last one to finish stops the queue. */
    finished: SharedArrayBuffer;
    producers: number;
  }
  | { op: "consume"; handle: EvictingQueue<[number, number]>["handle"]; producers: number }
  | { op: "blockingGet"; handle: EvictingQueue<unknown>["handle"] };

/** The worker global, typed without pulling the worker lib into the importing test. */
const scope = self as unknown as {
  onmessage: (event: MessageEvent<QueueJob>) => void;
  postMessage: (message: unknown) => void;
};

scope.onmessage = (event) => {
  const job = event.data;
  if (job.op === "produce") {
    const queue = EvictingQueue.from<[number, number]>(job.handle);
    for (let i = 0; i < job.count; i++) queue.put([job.producer, i]);
    const finished = new Int32Array(job.finished);
    if (Atomics.add(finished, 0, 1) === job.producers - 1) queue.stop();
    scope.postMessage({ done: true });
  } else if (job.op === "consume") {
    const queue = EvictingQueue.from<[number, number]>(job.handle);
    const next = new Array<number>(job.producers).fill(0);
    const seen: number[] = new Array<number>(job.producers).fill(0);
    let outOfOrder = 0;
    for (const [producer, i] of queue) {
      if (i < next[producer]!) outOfOrder++;
      next[producer] = i + 1;
      seen[producer]!++;
    }
    scope.postMessage({ seen, outOfOrder });
  } else {
    const queue = EvictingQueue.from(job.handle);
    scope.postMessage({ waiting: true });
    try {
      queue.get();
      scope.postMessage({ result: "item" });
    } catch (error) {
      scope.postMessage({ result: (error as Error).name });
    }
  }
};
