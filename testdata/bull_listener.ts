// A listener process for bull_test.ts and bench/kv_jobs.ts: runs the jobs of a queue ("shared" by
// default) on the Redis given; "inline" runs the tasks on its event loop (an object of functions)
// instead of worker threads (the module's URL).
// Usage: deno run -A testdata/bull_listener.ts <redis url> <leaseMs> [queue] [inline]
import { BullPool } from "../bull.ts";
import { listenUntilStdinCloses } from "./job_pool_checks.ts";

const [url, leaseMs, name = "shared", mode] = Deno.args;
const TASKS = new URL("./kv_tasks.ts", import.meta.url);
const jobs = new BullPool({
  connection: { url: url! },
  tasks: mode === "inline" ? await import(TASKS.href) : TASKS,
  name,
  leaseMs: Number(leaseMs),
});
// Ends when the test closes stdin (or kills this process).
await listenUntilStdinCloses(jobs);
