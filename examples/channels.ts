// GitPython async's channels: a writer and reader pair (mkchannel), blocking reads of a count,
// the callback writer (pre-write conversion) and callback reader (pre-read count), and a reader
// in another thread.
// Run: npx --yes deno@2.9.6 run examples/channels.ts
import { channel, type ChannelReader, StoppableThread } from "../mod.ts";

const [writer, reader] = channel<string>({ size: 16 }); // mkchannel()
const upper = writer.before((item: string) => item.toUpperCase()); // CallbackChannelWriter
for (const word of ["alpha", "beta", "gamma", "delta"]) upper.write(word);
writer.close(); // readers drain, then see the end
const counted = reader.beforeRead((count) => console.log(`about to read ${count} item(s)`));
console.log(counted.read(1)); // read(count) blocks until that many are there, or the close
console.log(counted.read()); // read() reads everything until the close

// A reader in a worker thread, writing from the main thread.
const [w, r] = channel<number>({ size: 4 });
const summer = new StoppableThread((_t, r: ChannelReader<number>) => {
  let sum = 0;
  for (const item of r) sum += item; // blocking iteration, ends at close
  return sum;
}, { args: [r] }).start();
for (let i = 1; i <= 100; i++) await w.writeAsync(i); // waits while the channel is full
w.close();
console.log("sum read in the worker:", await summer.join());
