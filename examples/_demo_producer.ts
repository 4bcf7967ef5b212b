// Worker for examples/demo.ts: puts `count` numbered items on a shared queue, then stops it.
import { EvictingQueue } from "../queue.ts";

const scope = self as unknown as {
  onmessage: (
    event: MessageEvent<{ handle: EvictingQueue<number>["handle"]; count: number }>,
  ) => void;
};

scope.onmessage = ({ data }) => {
  const queue = EvictingQueue.from<number>(data.handle);
  for (let i = 0; i < data.count; i++) queue.put(i);
  queue.stop();
};
