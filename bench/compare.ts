// Side-by-side comparison of theta and its peers, in one process on this machine.
//
//   npx --yes deno@2.9.6 run --allow-read --allow-env bench/compare.ts [section ...]
//
// Sections: queue, pool, callqueue, isolation. Each figure is the median of ROUNDS runs; ratios compare theta to peers.
import { EvictingQueue } from "../queue.ts";
import process from "node:process";
import { parallelise, Pool } from "../pool.ts";
import { CallQueue } from "../callqueue.ts";
import { channel } from "../channel.ts";
import { StoppableThread, type ThreadContext } from "../thread.ts";
import { RingBuffer } from "ringbuf.js";
import { Piscina } from "piscina";
import workerpool from "workerpool";
import { Tinypool } from "tinypool";
import { BATCH, type ProducerJob } from "./_queue_producer.ts";
import { median, percentile } from "./_median.ts";

const ROUNDS = 5;
const QUEUE_ITEMS = 500_000;
/** Items of each single-item transport's untimed warm-up phase (see `timed`). */
const QUEUE_WARMUP = 100_000;
/**
 * Items for the batched transports: 40 M take theta 50-90 ms, a span this VM's minute-to-minute
 * drift moves less than the 10 M (10-30 ms) timed before 2026-11-25 (eighth session).
 */
const BATCHED_ITEMS = 40_000_000;
/**
 * Items of each batched transport's untimed warm-up phase: as many calls as the single-item
 * warm-up makes (100 k batches of 256). The 1 M (3906 calls) used before left both producers
 * compiling into the timed phase: ringbuf.js ran 742-797 M/s, theta's array path 0.29-0.62x of
 * it round by round; warm, ringbuf.js runs 974-1007 M/s and theta 0.46-0.52x (medians,
 * bench/README.md).
 */
const BATCHED_WARMUP = 25_600_000;
const POST_MESSAGE_ITEMS = 100_000;

function format(rate: number): string {
  return rate >= 1e6 ? `${(rate / 1e6).toFixed(2)} M/s` : `${(rate / 1e3).toFixed(1)} k/s`;
}

/** Starts a producer worker and resolves once it is ready, so startup is not measured. */
async function producer(job: Omit<ProducerJob, "start">): Promise<{
  worker: Worker;
  /** Starts the producer's next phase (the warm-up, then the timed one). */
  go: () => number;
}> {
  const start = new SharedArrayBuffer(4);
  const worker = new Worker(new URL("./_queue_producer.ts", import.meta.url), { type: "module" });
  const ready = new Promise<void>((resolve) => {
    worker.onmessage = () => resolve();
  });
  worker.postMessage({ ...job, start });
  await ready;
  return {
    worker,
    go: () => {
      const flag = new Int32Array(start);
      Atomics.add(flag, 0, 1);
      Atomics.notify(flag, 0);
      return performance.now();
    },
  };
}

/**
 * Items/s of one transport: the producer sends `job.warmup` items, which `consume` receives
 * untimed, then `job.count` items, timed. Every transport is warmed alike, each side with its
 * own code: a queue in use runs warm, and a fresh worker's first milliseconds would measure its
 * JIT (theta's put is more code than ringbuf.js's push: 0.56-0.74x cold against 0.98-1.0x warm
 * in runs of 2026-11-25).
 */
async function timed(
  job: Omit<ProducerJob, "start">,
  consume: (items: number, worker: Worker) => void | Promise<void>,
): Promise<number> {
  const { worker, go } = await producer(job);
  go();
  await consume(job.warmup, worker);
  const started = go();
  await consume(job.count, worker);
  const rate = job.count / ((performance.now() - started) / 1000);
  worker.terminate();
  return rate;
}

function thetaQueue(kind: ProducerJob["kind"]): Promise<number> {
  const queue = new EvictingQueue<unknown>();
  return timed(
    { transport: "theta", kind, warmup: QUEUE_WARMUP, count: QUEUE_ITEMS, queue: queue.handle },
    (items) => {
      for (let i = 0; i < items; i++) queue.get();
    },
  );
}

function thetaChannel(kind: ProducerJob["kind"]): Promise<number> {
  const [writer, reader] = channel<unknown>({ size: 1024 });
  const values = reader[Symbol.iterator]();
  return timed(
    {
      transport: "channel",
      kind,
      warmup: QUEUE_WARMUP,
      count: QUEUE_ITEMS,
      writer: writer.handle,
    },
    (items) => {
      for (let i = 0; i < items; i++) values.next();
    },
  );
}

function postMessageQueue(kind: ProducerJob["kind"]): Promise<number> {
  let received = 0;
  return timed(
    { transport: "postMessage", kind, warmup: POST_MESSAGE_ITEMS / 5, count: POST_MESSAGE_ITEMS },
    (items, worker) =>
      new Promise<void>((resolve) => {
        const until = received + items;
        worker.onmessage = () => {
          if (++received === until) resolve();
        };
      }),
  );
}

/** Holds the last batch ringbufQueue(batch, true) made (see there). */
const sink: { batch: number[] } = { batch: [] };

/**
 * ringbuf.js (SPSC, Float64), one number at a time or in batches of `batch`. With `arrays`, its
 * reader also copies each batch into a new plain array, as `getMany` returns one: the same work
 * on the reading side, so that the ring's own cost is compared.
 */
function ringbufQueue(batch = 1, arrays = false): Promise<number> {
  const ring = RingBuffer.getStorageForCapacity(4096, Float64Array);
  const buffer = new RingBuffer(ring, Float64Array);
  const out = new Float64Array(batch);
  return timed(
    {
      transport: batch === 1 ? "ringbuf" : "ringbufBatch",
      kind: "number",
      warmup: batch === 1 ? QUEUE_WARMUP : BATCHED_WARMUP,
      count: batch === 1 ? QUEUE_ITEMS : BATCHED_ITEMS,
      ring,
    },
    arrays
      ? (items) => {
        for (let received = 0; received < items;) {
          const count = buffer.pop(out);
          const values = new Array<number>(count);
          for (let i = 0; i < count; i++) values[i] = out[i]!;
          sink.batch = values; // escapes, as getMany's result does: V8 must make it
          received += count;
        }
      }
      : (items) => {
        for (let received = 0; received < items;) received += buffer.pop(out);
      },
  );
}

/**
 * theta's queue in batches of BATCH: putMany in the worker (of an array, or of a Float64Array as
 * ringbuf.js is given), getMany on the main thread.
 */
function thetaQueueBatched(typed = false): Promise<number> {
  // Unbounded, with room for every item (warm-up and timed: 65.6 M numbers, 525 MB) should the
  // producer outrun the reader. It does: 0.01-2.8 M items were queued at times in runs of
  // 2026-11-25, where ringbuf.js's 4096-item ring makes its producer spin. That is not what costs
  // theta: a producer held to 4096 items (spinning on `length`) was slower (bench/README.md, fifth
  // session). A bounded EvictingQueue would evict, and the loop below would wait for items
  // forever. The ceiling is address space reserved, not memory.
  const queue = new EvictingQueue<unknown>(undefined, { maxBytes: 1024 * 1024 * 1024 });
  return timed(
    {
      transport: typed ? "thetaBatchTyped" : "thetaBatch",
      kind: "number",
      warmup: BATCHED_WARMUP,
      count: BATCHED_ITEMS,
      queue: queue.handle,
    },
    (items) => {
      for (let received = 0; received < items;) received += queue.getMany(BATCH).length;
    },
  );
}

async function measure(run: () => Promise<number>): Promise<number> {
  const rates: number[] = [];
  for (let i = 0; i < ROUNDS; i++) rates.push(await run());
  return median(rates);
}

/** Rates of two transports measured in alternating rounds, and the median of their ratios. */
interface Paired {
  a: number;
  b: number;
  ratio: number;
  ratios: number[];
}

/**
 * Runs `a` then `b`, ROUNDS times: on this VM one thread pair's rate moves up to 3x from minute
 * to minute, so a ratio is only fair between runs made side by side.
 */
async function paired(a: () => Promise<number>, b: () => Promise<number>): Promise<Paired> {
  const as: number[] = [];
  const bs: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    as.push(await a());
    bs.push(await b());
    ratios.push(as[i]! / bs[i]!);
  }
  return { a: median(as), b: median(bs), ratio: median(ratios), ratios };
}

function ratios(pair: Paired): string {
  return pair.ratios.map((r) => r.toFixed(2)).join(", ");
}

async function queueSection(): Promise<void> {
  console.log(`\n## Queue: items/s from one worker to the main thread (median of ${ROUNDS})\n`);
  const single = await paired(() => thetaQueue("number"), () => ringbufQueue());
  const batched = await paired(() => thetaQueueBatched(), () => ringbufQueue(BATCH));
  const typed = await paired(() => thetaQueueBatched(true), () => ringbufQueue(BATCH));
  const arrays = await paired(() => thetaQueueBatched(), () => ringbufQueue(BATCH, true));
  const thetaNumbers = single.a;
  const thetaObjects = await measure(() => thetaQueue("object"));
  const channelNumbers = await measure(() => thetaChannel("number"));
  const channelObjects = await measure(() => thetaChannel("object"));
  const postNumbers = await measure(() => postMessageQueue("number"));
  const postObjects = await measure(() => postMessageQueue("object"));
  console.log("| transport | numbers | small objects | theta / it (numbers) |");
  console.log("|---|---|---|---|");
  console.log(
    `| theta EvictingQueue | ${format(thetaNumbers)} | ${format(thetaObjects)} | 1.00x |`,
  );
  console.log(
    `| theta channel (size 1024, lossless) | ${format(channelNumbers)} | ${
      format(channelObjects)
    } | ${(thetaNumbers / channelNumbers).toFixed(2)}x |`,
  );
  console.log(
    `| postMessage | ${format(postNumbers)} | ${format(postObjects)} | ${
      (thetaNumbers / postNumbers).toFixed(1)
    }x |`,
  );
  console.log(
    `| ringbuf.js 0.4.0 (Float64, SPSC) | ${format(single.b)} | n/a | ${
      single.ratio.toFixed(2)
    }x |`,
  );
  console.log(
    `\ntheta / ringbuf.js one at a time, round by round (run side by side): ${ratios(single)}`,
  );
  console.log(
    `\nBatches of ${BATCH} numbers (putMany/getMany; ringbuf.js push/pop of a Float64Array):\n`,
  );
  console.log("| transport | numbers | theta / it |");
  console.log("|---|---|---|");
  console.log(`| theta EvictingQueue putMany(array)/getMany | ${format(batched.a)} | 1.00x |`);
  console.log(`| theta EvictingQueue putMany(Float64Array)/getMany | ${format(typed.a)} | 1.00x |`);
  console.log(
    `| ringbuf.js 0.4.0 batched | ${format(batched.b)} | ${batched.ratio.toFixed(2)}x (array), ${
      typed.ratio.toFixed(2)
    }x (Float64Array) |`,
  );
  console.log(
    `| ringbuf.js 0.4.0 batched, each batch then copied into a new array (what getMany returns) | ${
      format(arrays.b)
    } | ${arrays.ratio.toFixed(2)}x (array; theta ${format(arrays.a)} in these rounds) |`,
  );
  console.log(`\ntheta / ringbuf.js batched, round by round: array ${ratios(batched)}`);
  console.log(`Float64Array ${ratios(typed)}`);
  console.log(`array, against ringbuf.js into arrays ${ratios(arrays)}`);
}

/** A pool under test: run one tiny task (x => x + 1), and shut down. */
interface Contender {
  name: string;
  run: (x: number) => Promise<number>;
  close: () => Promise<unknown>;
}

const POOL_SEQUENTIAL = 3000;
const POOL_BURST = 20_000;
const PEER_TASK = new URL("./_peer_task.mjs", import.meta.url);

function contenders(): (() => Contender)[] {
  return [
    () => {
      const pool = new Pool({ size: 2 });
      return {
        name: "theta Pool",
        run: (x) => pool.run((y: number) => y + 1, [x]),
        close: () => pool.close(),
      };
    },
    () => {
      const pool = new Piscina({ filename: PEER_TASK.href, minThreads: 2, maxThreads: 2 });
      return {
        name: "piscina 5.3.2",
        run: (x) => pool.run(x),
        close: async () => {
          await pool.destroy();
        },
      };
    },
    () => {
      const pool = workerpool.pool(new URL("./_workerpool_task.mjs", import.meta.url).pathname, {
        minWorkers: 2,
        maxWorkers: 2,
        workerType: "thread",
      });
      return {
        name: "workerpool 10.0.3",
        run: (x) => pool.exec("inc", [x]) as unknown as Promise<number>,
        close: async () => {
          await pool.terminate();
        },
      };
    },
    () => {
      const pool = new Tinypool({ filename: PEER_TASK.href, minThreads: 2, maxThreads: 2 });
      return {
        name: "tinypool 2.2.0",
        run: (x) => pool.run(x),
        close: async () => {
          await pool.destroy();
        },
      };
    },
  ];
}

/** Microseconds per task, one task at a time. */
/** Microseconds per task, one task at a time: the mean, and each call's time into `calls`. */
async function sequential(contender: Contender, calls: number[] = []): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < POOL_SEQUENTIAL; i++) {
    const at = performance.now();
    await contender.run(i);
    calls.push((performance.now() - at) * 1000);
  }
  return ((performance.now() - started) * 1000) / POOL_SEQUENTIAL;
}

/** Tasks per second, all submitted at once. */
async function burst(contender: Contender): Promise<number> {
  const started = performance.now();
  await Promise.all(Array.from({ length: POOL_BURST }, (_, i) => contender.run(i)));
  return POOL_BURST / ((performance.now() - started) / 1000);
}

/** A contender's figures: median sequential latency (us) and burst rate (tasks/s). */
interface Measured {
  name: string;
  latency: number;
  rate: number;
  /** Tasks per second in the first burst, right after 2000 sequential warm-up tasks. */
  firstBurst: number;
  /** Per-call latency percentiles over every round, in us. */
  p50: number;
  p99: number;
}

/** Warms a contender up (workers and JIT), then measures it ROUNDS times and closes it. */
async function measureContender(make: () => Contender): Promise<Measured> {
  const contender = make();
  for (let i = 0; i < 2000; i++) await contender.run(i);
  // The first burst after a sequential phase: a pool that grows on demand meets it with one
  // worker (a sequential caller never needs two), and must start the others inside it.
  const firstBurst = await burst(contender);
  const latencies: number[] = [];
  const rates: number[] = [];
  const calls: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    latencies.push(await sequential(contender, calls));
    rates.push(await burst(contender));
  }
  await contender.close();
  calls.sort((a, b) => a - b);
  return {
    name: contender.name,
    latency: median(latencies),
    rate: median(rates),
    firstBurst,
    p50: percentile(calls, 0.5),
    p99: percentile(calls, 0.99),
  };
}

async function poolSection(): Promise<void> {
  console.log(`\n## Pool: 2 workers, tiny task x => x + 1 (median of ${ROUNDS})\n`);
  const rows: Measured[] = [];
  for (const make of contenders()) rows.push(await measureContender(make));
  const theta = rows[0]!;
  console.log(
    "| pool | sequential, us/task | per call p50 / p99, us | burst, tasks/s | first burst after sequential | theta faster: sequential (p50) | burst | first burst |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const row of rows) {
    console.log(
      `| ${row.name} | ${row.latency.toFixed(1)} | ${row.p50.toFixed(1)} / ${
        row.p99.toFixed(1)
      } | ${format(row.rate)} | ${format(row.firstBurst)} | ${
        (row.latency / theta.latency).toFixed(1)
      }x (${(row.p50 / theta.p50).toFixed(1)}x) | ${(theta.rate / row.rate).toFixed(1)}x | ${
        (theta.firstBurst / row.firstBurst).toFixed(1)
      }x |`,
    );
  }

  const cpuBound = (_id: number, n: number): number => {
    const fib = (k: number): number => k < 2 ? k : fib(k - 1) + fib(k - 2);
    return fib(n);
  };
  // Warm pools: the speedup of the work itself. Cold: a fresh pool per call, startup included.
  const timeJobs = async (workers: number, warm: boolean): Promise<number> => {
    const pool = warm ? new Pool({ size: workers }) : undefined;
    if (pool !== undefined) await parallelise(cpuBound, workers, { args: [20], pool });
    const started = performance.now();
    await parallelise(cpuBound, 8, {
      args: [32],
      concurrency: workers,
      ...(pool !== undefined ? { pool } : {}),
    });
    const elapsed = performance.now() - started;
    await pool?.close();
    return elapsed;
  };
  for (const warm of [true, false]) {
    const one = median([await timeJobs(1, warm), await timeJobs(1, warm), await timeJobs(1, warm)]);
    const two = median([await timeJobs(2, warm), await timeJobs(2, warm), await timeJobs(2, warm)]);
    console.log(
      `\nparallelise, 8 CPU-bound jobs (fib(32)), ${warm ? "warm pool" : "new pool per call"}: ` +
        `1 worker ${one.toFixed(0)} ms, 2 workers ${two.toFixed(0)} ms: speedup ${
          (one / two).toFixed(2)
        }x`,
    );
  }
}

const CALLS = 20_000;

/** Microseconds per blocking call from a worker into this thread, which serves. */
async function thetaCallRoundTrip(): Promise<number> {
  const calls = new CallQueue({ inc: (x: number) => x + 1 });
  const controller = new AbortController();
  const serving = calls.serve({ signal: controller.signal });
  const caller = (
    _thread: ThreadContext,
    calls: CallQueue<{ inc: (x: number) => number }>,
    count: number,
  ): number => {
    for (let i = 0; i < 2000; i++) calls.call("inc", [i]); // warm up
    const started = performance.now();
    for (let i = 0; i < count; i++) calls.call("inc", [i]);
    return ((performance.now() - started) * 1000) / count;
  };
  const thread = new StoppableThread(caller, { args: [calls, CALLS] }).start();
  const perCall = await thread.join();
  controller.abort();
  await serving;
  return perCall;
}

/** Microseconds per postMessage request and reply between a worker and this thread. */
async function postMessageRoundTrip(): Promise<number> {
  const source = `self.onmessage = (e) => self.postMessage(e.data + 1);`;
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  const ask = (x: number): Promise<number> =>
    new Promise((resolve) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.postMessage(x);
    });
  for (let i = 0; i < 2000; i++) await ask(i);
  const count = CALLS / 4;
  const started = performance.now();
  for (let i = 0; i < count; i++) await ask(i);
  const perCall = ((performance.now() - started) * 1000) / count;
  worker.terminate();
  URL.revokeObjectURL(url);
  return perCall;
}

async function callQueueSection(): Promise<void> {
  console.log(`\n## CallQueue: one call round trip, worker -> main (median of ${ROUNDS})\n`);
  const thetaRuns: number[] = [];
  const postRuns: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    thetaRuns.push(await thetaCallRoundTrip());
    postRuns.push(await postMessageRoundTrip());
  }
  const theta = median(thetaRuns);
  const post = median(postRuns);
  console.log("| transport | us per round trip | theta faster |");
  console.log("|---|---|---|");
  console.log(
    `| theta CallQueue.call (blocking caller, serve() owner) | ${theta.toFixed(2)} | 1.0x |`,
  );
  console.log(
    `| postMessage request + reply | ${post.toFixed(2)} | ${(post / theta).toFixed(1)}x |`,
  );
}

/** CPU time this process used so far, in ms (all its threads; not its children). */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Ms from `start` until this process's CPU use falls below a tenth of a core over 100 ms
 * windows, or Infinity if it still burns after `limit` ms.
 */
async function msUntilIdle(start: number, limit = 3000): Promise<number> {
  for (;;) {
    const before = cpuMs();
    const at = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (cpuMs() - before < 0.1 * (performance.now() - at)) return at - start;
    if (performance.now() - start > limit) return Infinity;
  }
}

/** Whether process `pid` exists (ps, from procps). */
async function exists(pid: number): Promise<boolean> {
  const { stdout } = await new Deno.Command("ps", { args: ["-o", "pid=", "-p", String(pid)] })
    .output();
  return new TextDecoder().decode(stdout).trim() !== "";
}

/** The pids of this process's children running theta's process runner. */
async function runnerPids(): Promise<number[]> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "pid=,args=", "--ppid", String(Deno.pid)],
  }).output();
  return new TextDecoder().decode(stdout).split("\n").filter((l) => l.includes("_process_runner"))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

async function isolationSection(): Promise<void> {
  console.log(
    `\n## Isolation: thread vs process workers, 2 workers, tiny task (median of ${ROUNDS})\n`,
  );
  const makers: (() => Contender)[] = [
    contenders()[0]!,
    () => {
      const pool = new Pool({ size: 2, isolation: "process" });
      return {
        name: "theta Pool, isolation: process",
        run: (x) => pool.run((y: number) => y + 1, [x]),
        close: () => pool.close(),
      };
    },
    contenders()[1]!,
  ];
  console.log("| pool | sequential, us/task | burst, tasks/s |");
  console.log("|---|---|---|");
  for (const make of makers) {
    const { name, latency, rate } = await measureContender(make);
    console.log(`| ${name} | ${latency.toFixed(1)} | ${format(rate)} |`);
  }

  console.log("\nA runaway task (`while (true) {}`) cancelled after 100 ms:\n");
  console.log("| pool | CPU back to idle after the cancel |");
  console.log("|---|---|");
  const show = (ms: number): string =>
    ms === Infinity ? "never: still a full core 3 s later" : `${ms.toFixed(0)} ms`;
  {
    const pool = new Pool({ size: 1 });
    await pool.run((x: number) => x, [0]);
    await pool.run(
      () => {
        while (true) { /* burn */ }
      },
      [],
      { timeout: 100 },
    ).catch(() => {});
    console.log(
      `| theta Pool, isolation: thread | ${show(await msUntilIdle(performance.now()))} |`,
    );
    await pool.terminate();
  }
  {
    const pool = new Pool({ size: 1, isolation: "process" });
    await pool.run((x: number) => x, [0]);
    const [pid] = await runnerPids();
    await pool.run(
      () => {
        while (true) { /* burn */ }
      },
      [],
      { timeout: 100 },
    ).catch(() => {});
    const start = performance.now();
    while (await exists(pid!)) await new Promise((resolve) => setTimeout(resolve, 1));
    console.log(
      `| theta Pool, isolation: process | ${
        (performance.now() - start).toFixed(0)
      } ms (process gone) |`,
    );
    await pool.close();
  }
  {
    const pool = new Piscina({
      filename: new URL("./_peer_runaway.mjs", import.meta.url).href,
      minThreads: 1,
      maxThreads: 1,
    });
    const controller = new AbortController();
    const running = pool.run(undefined, { signal: controller.signal }).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort();
    await running;
    console.log(`| piscina 5.3.2 (abort) | ${show(await msUntilIdle(performance.now()))} |`);
    await pool.destroy().catch(() => {});
  }
}

const sections: Record<string, () => Promise<void>> = {
  queue: queueSection,
  pool: poolSection,
  callqueue: callQueueSection,
  isolation: isolationSection,
};
const wanted = Deno.args.length > 0 ? Deno.args : Object.keys(sections);
console.log(
  `# theta vs peers — Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, ${
    new Date().toISOString().slice(0, 10)
  }`,
);
for (const name of wanted) {
  const section = sections[name];
  if (section === undefined) throw new RangeError(`Cannot run section "${name}": unknown`);
  await section();
}
// The isolation section leaves runaway threads behind on purpose (theta's thread mode and
// piscina cannot stop a loop that never yields: that is what it measures), and they would keep
// this process alive for good.
Deno.exit(0);
