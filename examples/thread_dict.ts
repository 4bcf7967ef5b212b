// The fandango seed's ThreadDict example: values produced by a reader polled in a background
// worker; a write through the writer shows up in the next reads.
// Run: npx --yes deno@2.9.6 run --allow-read examples/thread_dict.ts
import { PollingMap } from "../mod.ts";

const device = new URL("./_thread_dict_device.ts", import.meta.url);
await using td = new PollingMap<string, string>({
  read: new URL("#reader", device),
  write: new URL("#writer", device),
});

console.log("td.get('test') ->", td.get("test")); // the seed raises KeyError; here: undefined
td.poll("test", 300); // seed: td.append('test', period=3.), a tenth of the time
await new Promise((resolve) => setTimeout(resolve, 700));
await td.set("test", "10"); // seed: td['test'] = 10
await new Promise((resolve) => setTimeout(resolve, 700));
console.log("td.get('test') ->", td.get("test")); // e.g. "2026-11-24 05:48:44:10"
