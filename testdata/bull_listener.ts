// A listener process for bull_test.ts: runs the jobs of queue "shared" on the Redis given.
// Usage: deno run -A testdata/bull_listener.ts <redis url> <leaseMs>
import { BullPool } from "../bull.ts";

const [url, leaseMs] = Deno.args;
const jobs = new BullPool({
  connection: { url: url! },
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
