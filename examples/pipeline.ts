// GitPython async's task graph, in theta: a producer task feeding a channel, two chained
// transform stages on a pool with their own chunk sizes, and a consumer. Nothing runs until the
// consumer reads; each stage reads ahead a bounded amount; breaking out stops every stage.
// Run: npx --yes deno@2.9.6 run examples/pipeline.ts
import { channel, type ChannelWriter, Pool, StoppableThread, type ThreadContext } from "../mod.ts";

await using pool = new Pool({ size: 2 });
const [writer, reader] = channel<number>({ size: 16 });

// The producer (the seed's IteratorTask): writes until the channel closes from downstream.
function produce(_thread: ThreadContext, writer: ChannelWriter<number>): number {
  let written = 0;
  try {
    for (let i = 0;; i++) {
      writer.write(i); // waits while the channel is full: bounded read-ahead
      written++;
    }
  } catch {
    return written; // ChannelClosed: the pipeline was abandoned
  }
}
const producer = new StoppableThread(produce, { args: [writer] }).start();

// Two chained transforms, each a lazy Pool.map with its own chunk size (the seed's
// max_chunksize), named so that an error says which stage failed.
const squares = pool.map((x: number) => x * x, reader, { chunkSize: 8, name: "square" });
const labels = pool.map((x: number) => `item ${x}`, squares, { chunkSize: 4, name: "label" });

// The consumer: the first read starts the work; breaking out is the seed's remove_task.
let consumed = 0;
for await (const label of labels) {
  if (consumed++ < 3) console.log(label);
  if (consumed === 1000) break;
}
console.log(`consumed ${consumed}; the producer stopped after ${await producer.join()} items`);
