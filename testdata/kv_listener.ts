// A listener process for kv_test.ts: runs the jobs of queue "shared" on the KV file given.
// Usage: deno run --unstable-kv -A testdata/kv_listener.ts <kv path> <leaseMs>
import { KvPool } from "../kv.ts";

const [path, leaseMs] = Deno.args;
const kv = await Deno.openKv(path);
const jobs = new KvPool(kv, {
  tasks: new URL("./kv_tasks.ts", import.meta.url),
  name: "shared",
  leaseMs: Number(leaseMs),
});
const listening = jobs.listen();
console.log("listening");
// Ends when the test closes stdin (or kills this process).
for await (const _ of Deno.stdin.readable) { /* wait */ }
await jobs.close();
await listening;
kv.close();
