// KvPool end-to-end throughput: jobs submitted, run and their results read back.
// Run: npx --yes deno@2.9.6 run --unstable-kv -A bench/kv_jobs.ts
import { KvPool } from "../kv.ts";

const JOBS = 500;
const TASKS = new URL("../testdata/kv_tasks.ts", import.meta.url);
const LISTENER = new URL("../testdata/kv_listener.ts", import.meta.url);

async function run(kv: Deno.Kv, name: string): Promise<number> {
  const jobs = new KvPool(kv, { tasks: TASKS, name });
  const started = performance.now();
  await Promise.all(Array.from({ length: JOBS }, (_, i) => jobs.submit("add", i, 1)));
  return JOBS / ((performance.now() - started) / 1000);
}

async function inProcess(path: string): Promise<number> {
  const kv = await Deno.openKv(path);
  const jobs = new KvPool(kv, { tasks: TASKS, name: "bench", concurrency: 16 });
  const listening = jobs.listen();
  const rate = await run(kv, "bench");
  await jobs.close();
  await listening;
  kv.close();
  return rate;
}

async function acrossProcesses(path: string): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-kv", "-A", LISTENER.pathname, path, "30000"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  await reader.read();
  reader.releaseLock();
  const kv = await Deno.openKv(path);
  const rate = await run(kv, "shared");
  kv.close();
  child.stdin.close();
  await child.status;
  child.stdout.cancel().catch(() => {});
  return rate;
}

const dir = await Deno.makeTempDir({ prefix: "theta_kv_bench_" });
console.log("| setup | jobs/s (500 jobs, submit and read back) |");
console.log("|---|---|");
console.log(`| one process, :memory: | ${(await inProcess(":memory:")).toFixed(0)} |`);
console.log(`| one process, SQLite file | ${(await inProcess(`${dir}/a.sqlite3`)).toFixed(0)} |`);
console.log(
  `| submitter + listener process, one SQLite file | ${
    (await acrossProcesses(`${dir}/b.sqlite3`)).toFixed(0)
  } |`,
);
await Deno.remove(dir, { recursive: true });
