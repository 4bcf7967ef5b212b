// A ten-second tour of theta: `npx --yes deno@2.9.6 task demo`.
import {
  CallQueue,
  channel,
  type ChannelWriter,
  EvictingQueue,
  KvPool,
  parallelise,
  Periodic,
  Pool,
  StoppableThread,
  Store,
  type ThreadContext,
} from "../mod.ts";

const encoder = new TextEncoder();

function heading(title: string): void {
  console.log(`\n== ${title}`);
}

/** Rewrites the current terminal line (a live progress line). */
function progressLine(text: string): void {
  Deno.stdout.writeSync(encoder.encode(`\r${text}`));
}

heading("parallelise: 16 CPU-bound jobs (fib(30)) on 2 workers, with live progress");
{
  const fib = (_jobId: number, n: number): number => {
    const f = (k: number): number => k < 2 ? k : f(k - 1) + f(k - 2);
    return f(n);
  };
  const started = performance.now();
  const results = await parallelise(fib, 16, {
    args: [30],
    concurrency: 2,
    onProgress: (done, total) => {
      const rate = done / ((performance.now() - started) / 1000);
      progressLine(`  ${done}/${total} jobs done, ${rate.toFixed(1)} jobs/s`);
    },
  });
  console.log(`\n  all ${results.length} results equal ${results[0]}`);
}

heading("EvictingQueue: two producer threads, the main thread consumes with blocking gets");
{
  const perProducer = 500_000;
  const queue = new EvictingQueue<number>();
  const produce = (_thread: ThreadContext, queue: EvictingQueue<number>, count: number) => {
    for (let i = 0; i < count; i++) queue.put(i);
  };
  const started = performance.now();
  const producers = [1, 2].map(() =>
    new StoppableThread(produce, { args: [queue, perProducer] }).start()
  );
  let received = 0;
  let sum = 0;
  while (received < 2 * perProducer) {
    sum += queue.get(5000);
    received++;
  }
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(producers.map((producer) => producer.join()));
  const expected = 2 * (perProducer * (perProducer - 1)) / 2;
  console.log(
    `  received ${received.toLocaleString()} items, ${
      (received / seconds / 1e6).toFixed(2)
    } M items/s (thread startup included), ${sum === expected ? "nothing lost" : "ITEMS LOST"}`,
  );
}

heading("Periodic: a job every 50 ms in a background worker (fandango ThreadedObject)");
{
  let runs = 0;
  const done = Promise.withResolvers<void>();
  await using job = new Periodic(() => performance.now(), {
    period: 50,
    start: true,
    onResult: () => {
      if (++runs === 10) done.resolve();
    },
  });
  await done.promise;
  job.stop();
  const { count, errors, delay, accDelay, usage } = job.stats;
  console.log(
    `  count ${count}, errors ${errors}, last delay ${delay.toFixed(3)} ms, ` +
      `accumulated delay ${accDelay.toFixed(3)} ms, usage ${(usage * 100).toFixed(2)}%`,
  );
}

heading("Store: callbacks on written values, run in pool workers");
{
  await using pool = new Pool({ size: 2 });
  const store = new Store(pool);
  store.addCallback(["sensor", 1], (celsius: number) => `${(celsius * 9 / 5 + 32).toFixed(1)} F`);
  store.addCallback(["sensor", 1], (celsius: number) => celsius > 30 ? "hot" : "fine");
  const writer = store.writer(["sensor", 1]);
  for (const celsius of [21.5, 33]) {
    console.log(`  write ${celsius} C ->`, await Promise.all(writer.write(celsius)));
  }
}

heading("CallQueue: a worker calls into the main thread's loop");
{
  const log: string[] = [];
  const calls = new CallQueue({
    record: (line: string) => log.push(line),
    total: () => log.length,
  });
  const controller = new AbortController();
  const serving = calls.serve({ signal: controller.signal });
  const worker = new StoppableThread((
    _thread,
    calls: CallQueue<{
      record: (line: string) => number;
      total: () => number;
    }>,
  ) => {
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) calls.call("record", [`line ${i}`]); // blocking calls
    const perCall = (performance.now() - started) * 1000 / 10_000;
    return [calls.call("total"), perCall];
  }, { args: [calls] }).start();
  const [total, perCall] = await worker.join();
  controller.abort();
  await serving;
  console.log(
    `  ${total} calls ran on the main thread, ${perCall!.toFixed(1)} us per blocking call`,
  );
}

heading("Channel pipeline: a producer thread, two lazy pool stages, a consumer that stops early");
{
  await using pool = new Pool({ size: 2 });
  const [writer, reader] = channel<number>({ size: 8 });
  const producer = new StoppableThread((_thread, writer: ChannelWriter<number>) => {
    let written = 0;
    try {
      for (let i = 0;; i++) {
        writer.write(i);
        written++;
      }
    } catch {
      return written; // the consumer left: the channel closed
    }
  }, { args: [writer] }).start();
  const squares = pool.map((x: number) => x * x, reader, { chunkSize: 16, name: "square" });
  const odd = pool.map((x: number) => x % 2 === 1 ? x : -1, squares, { chunkSize: 8, name: "odd" });
  let sum = 0;
  let consumed = 0;
  for await (const value of odd) {
    if (value > 0) sum += value;
    if (++consumed === 5000) break;
  }
  console.log(
    `  consumed ${consumed} items (sum of odd squares ${sum}); ` +
      `the producer stopped after ${await producer.join()} items`,
  );
}

heading("KvPool: a background job on Deno KV (in memory here; a file or Deno Deploy alike)");
{
  const kv = await Deno.openKv(":memory:");
  const jobs = new KvPool(kv, {
    tasks: { greet: (name: string) => `hello, ${name}` },
    backoffSchedule: [],
  });
  const listening = jobs.listen();
  const id = await jobs.enqueue("greet", ["theta"]);
  console.log(
    `  job ${id.slice(0, 8)}… -> ${await jobs.result(id)}; status`,
    (await jobs.status(id))?.state,
  );
  await jobs.close();
  await listening;
  kv.close();
}

console.log("\nDone: every worker, timer and KV handle is closed.");
