// Job pools end to end, KvPool (one SQLite file) and BullPool (Redis on a Unix socket) in one run:
// jobs/s with 1-4 listener processes (submit 500 jobs, read every result back), pickup latency
// p50/p99 (enqueue to the task's start, one job at a time), and recovery after SIGKILL of a
// listener holding a job (kill to result, lease 1 s).
// Run: npx --yes deno@2.9.6 run --unstable-kv -A bench/kv_jobs.ts
import { KvPool } from "../kv.ts";
import { percentile } from "./_median.ts";
import { BullPool } from "../bull.ts";
import { hasRedis, startRedis } from "../testdata/redis.ts";
import { openKvRetrying } from "../testdata/open_kv.ts";
import { spawnListener as spawnListenerScript } from "../testdata/spawn_listener.ts";

const JOBS = 500;
const PICKUPS = 100;
const LEASE_MS = 1000;
const TASKS = new URL("../testdata/kv_tasks.ts", import.meta.url);

/** What the bench asks of either pool. */
interface JobPool {
  enqueue(name: string, args: unknown[]): Promise<string>;
  result(id: string): Promise<unknown>;
  close(): Promise<void>;
}

interface Engine {
  name: string;
  /** The listener script: args <target> <leaseMs>. */
  listener: URL;
  /** Where jobs live (a KV file path, a Redis URL). */
  target: string;
  /** The queue's name: one per measurement, so no setting of one carries into the next. */
  queue: string;
  /** Where listeners run tasks: worker threads (module URL) or their event loop (functions). */
  mode: "threads" | "inline";
  /** A submitting pool on the target and queue. */
  open(leaseMs: number): Promise<JobPool>;
}

function spawnListener(
  engine: Engine,
  leaseMs: number,
  env: Record<string, string> = {},
): Promise<Deno.ChildProcess> {
  const args = [engine.target, String(leaseMs), engine.queue, engine.mode];
  return spawnListenerScript(engine.listener, args, env);
}

async function stop(children: Deno.ChildProcess[]): Promise<void> {
  for (const child of children) child.stdin.close();
  await Promise.all(children.map((child) => child.status));
}

/** Enqueues JOBS jobs at once and reads every result back: jobs per second. */
async function jobsPerSecond(jobs: JobPool): Promise<number> {
  const started = performance.now();
  const ids = await Promise.all(
    Array.from({ length: JOBS }, (_, i) => jobs.enqueue("add", [i, 1])),
  );
  await Promise.all(ids.map((id) => jobs.result(id)));
  return JOBS / ((performance.now() - started) / 1000);
}

async function throughput(engine: Engine, listeners: number): Promise<number> {
  const children = await Promise.all(
    Array.from({ length: listeners }, () => spawnListener(engine, 30_000)),
  );
  const jobs = await engine.open(30_000);
  // One warm-up job per listener: module loading and worker threads are not the figure.
  await Promise.all(children.map(async () => jobs.result(await jobs.enqueue("add", [1, 1]))));
  const rate = await jobsPerSecond(jobs);
  await jobs.close();
  await stop(children);
  return rate;
}

/** Submitter and listener in this one process (tasks as functions, run on this event loop). */
async function inProcess(
  open: () => Promise<{ pool: JobPool; listen(): Promise<void> }>,
): Promise<number> {
  const { pool, listen } = await open();
  const listening = listen();
  await pool.result(await pool.enqueue("add", [1, 1]));
  const rate = await jobsPerSecond(pool);
  await pool.close();
  await listening;
  return rate;
}

async function pickup(engine: Engine): Promise<{ p50: number; p99: number }> {
  const children = [await spawnListener(engine, 30_000)];
  const jobs = await engine.open(30_000);
  await jobs.result(await jobs.enqueue("add", [1, 1]));
  const delays: number[] = [];
  for (let i = 0; i < PICKUPS; i++) {
    const enqueuedAt = Date.now();
    const startedAt = await jobs.result(await jobs.enqueue("startedAt", [])) as number;
    delays.push(startedAt - enqueuedAt);
  }
  await jobs.close();
  await stop(children);
  delays.sort((a, b) => a - b);
  return { p50: percentile(delays, 0.5), p99: percentile(delays, 0.99) };
}

async function recovery(engine: Engine): Promise<number> {
  const doomed = await spawnListener(engine, LEASE_MS, { THETA_HANG: "1" });
  const jobs = await engine.open(LEASE_MS);
  const id = await jobs.enqueue("hangInChild", []);
  await new Promise((resolve) => setTimeout(resolve, 300)); // the doomed listener holds it
  const survivor = await spawnListener(engine, LEASE_MS);
  const killedAt = performance.now();
  doomed.kill("SIGKILL");
  await doomed.status;
  await jobs.result(id);
  const ms = performance.now() - killedAt;
  await jobs.close();
  await stop([survivor]);
  return ms;
}

const dir = await Deno.makeTempDir({ prefix: "theta_jobs_bench_" });
let runs = 0;
const kvEngine = (mode: Engine["mode"]): Engine => {
  const target = `${dir}/jobs-${runs}.sqlite3`;
  const queue = `q${runs++}`;
  return {
    name: "KvPool, SQLite file",
    listener: new URL("../testdata/kv_listener.ts", import.meta.url),
    target,
    queue,
    mode,
    async open(leaseMs): Promise<JobPool> {
      const kv = await openKvRetrying(target);
      const pool = new KvPool(kv, { tasks: TASKS, name: queue, leaseMs });
      return { ...wrap(pool), close: async () => (await pool.close(), kv.close()) };
    },
  };
};
const redis = hasRedis ? await startRedis() : undefined;
const bullEngine = (mode: Engine["mode"]): Engine => {
  const queue = `q${runs++}`;
  const target = redis!.url;
  return {
    name: "BullPool, Redis 7 on a Unix socket",
    listener: new URL("../testdata/bull_listener.ts", import.meta.url),
    target,
    queue,
    mode,
    open(leaseMs): Promise<JobPool> {
      return Promise.resolve(
        new BullPool({ connection: { url: target }, tasks: TASKS, name: queue, leaseMs }),
      );
    },
  };
};
if (redis === undefined) console.warn("redis-server not found: BullPool is left out");

console.log(
  "| engine | listeners run tasks on | jobs/s, 1 listener | 2 | 3 | 4 | pickup p50 / p99 (ms) | recovery after SIGKILL (lease 1 s) |",
);
console.log("|---|---|---|---|---|---|---|---|");
for (const make of redis === undefined ? [kvEngine] : [kvEngine, bullEngine]) {
  for (const mode of ["threads", "inline"] as const) {
    const rates: string[] = [];
    for (const listeners of [1, 2, 3, 4]) {
      rates.push((await throughput(make(mode), listeners)).toFixed(0));
    }
    const { p50, p99 } = await pickup(make(mode));
    const recovered = await recovery(make(mode));
    const where = mode === "threads" ? "worker threads (module URL)" : "its event loop (functions)";
    console.log(
      `| ${make(mode).name} | ${where} | ${rates.join(" | ")} | ${p50} / ${p99} | ${
        recovered.toFixed(0)
      } ms |`,
    );
  }
}

const tasks = await import(TASKS.href);
const oneProcess: [string, () => Promise<{ pool: JobPool; listen(): Promise<void> }>][] = [
  ["KvPool, `:memory:`", async () => {
    const kv = await Deno.openKv(":memory:");
    const pool = new KvPool(kv, { tasks, concurrency: 16 });
    return {
      pool: { ...wrap(pool), close: async () => (await pool.close(), kv.close()) },
      listen: () => pool.listen(),
    };
  }],
  ["KvPool, SQLite file", async () => {
    const kv = await openKvRetrying(`${dir}/one-process.sqlite3`);
    const pool = new KvPool(kv, { tasks, concurrency: 16 });
    return {
      pool: { ...wrap(pool), close: async () => (await pool.close(), kv.close()) },
      listen: () => pool.listen(),
    };
  }],
];
if (redis !== undefined) {
  oneProcess.push(["BullPool, Redis on a Unix socket", () => {
    const pool = new BullPool({ connection: { url: redis.url }, tasks, concurrency: 16 });
    return Promise.resolve({ pool: wrap(pool), listen: () => pool.listen() });
  }]);
}
console.log("\n| one process (submitter and listener, concurrency 16) | jobs/s |");
console.log("|---|---|");
for (const [name, open] of oneProcess) {
  console.log(`| ${name} | ${(await inProcess(open)).toFixed(0)} |`);
}
await redis?.stop();
await Deno.remove(dir, { recursive: true });

function wrap(pool: KvPool | BullPool): JobPool {
  return {
    enqueue: (name, args) => pool.enqueue(name, args as never),
    result: (id) => pool.result(id),
    close: () => pool.close(),
  };
}
