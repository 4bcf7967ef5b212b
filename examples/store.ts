// theta's Store seed example: callbacks fired on written values through an executor.
// Run: npx --yes deno@2.9.6 run examples/store.ts
import { LocalExecutor, Store } from "../mod.ts";

const store = new Store(new LocalExecutor()); // the seed's ThreadPoolExecutor
// q holds a queue of data, d holds the most recent value
const q: number[] = [];
const d = { value: null as number | null };
// store a reference to the callback to remove later
const qId = store.addCallback("data", (value: number) => q.push(value));
// reference not needed since this callback won't be removed
store.addCallback("data", (value: number) => (d.value = value));
const writer = store.writer("data");
const futures: Promise<unknown>[] = [];
for (let i = 0; i < 5; i++) futures.push(...writer.write(i));
store.removeCallback(qId);
futures.push(...writer.write(5)); // value of 5 was only sent to the unnamed callback
await Promise.all(futures); // the seed's concurrent.futures.wait(fs)
console.log("q", q);
console.log("d", d);
