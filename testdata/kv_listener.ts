// A listener process for kv_test.ts and bench/kv_jobs.ts: runs the jobs of a queue ("shared" by
// default) on the KV file given; "inline" runs the tasks on its event loop (an object of
// functions) instead of worker threads (the module's URL).
// Usage: deno run --unstable-kv -A testdata/kv_listener.ts <kv path> <leaseMs> [queue] [inline]
import { KvPool } from "../kv.ts";
import { listenUntilStdinCloses } from "./job_pool_checks.ts";
import { openKvRetrying } from "./open_kv.ts";

const [path, leaseMs, name = "shared", mode] = Deno.args;
const TASKS = new URL("./kv_tasks.ts", import.meta.url);
const kv = await openKvRetrying(path!);
const jobs = new KvPool(kv, {
  tasks: mode === "inline" ? await import(TASKS.href) : TASKS,
  name,
  leaseMs: Number(leaseMs),
});
// Ends when the test closes stdin (or kills this process).
await listenUntilStdinCloses(jobs);
kv.close();
