// Cancellation at scale: a burst of tiny tasks with no options, with a timeout each, or all under
// one AbortSignal; and aborting that many queued tasks at once. theta and piscina in the same run
// (2 workers each); LocalExecutor with many waiting callers. Run:
//   deno run --allow-read --allow-env --allow-sys bench/cancel.ts
import { LocalExecutor, Pool } from "../pool.ts";
import { Piscina } from "piscina";
import { median } from "./_median.ts";

const TASKS = 20_000;
const ROUNDS = 3;
const PEER_TASK = new URL("./_peer_task.mjs", import.meta.url);
/**
 * Run the abort column for piscina too: under Deno 2.9.6 it throws "Unexpected message from
 * Worker" (a result for an aborted task) and a worker then runs out of memory, ending the process.
 */
const PEER_ABORT = Deno.args.includes("--peer-abort");

interface Contender {
  name: string;
  run: (x: number, options: { signal?: AbortSignal; timeout?: number }) => Promise<number>;
  close: () => Promise<unknown>;
  /** False if aborting TASKS queued tasks takes the process down (the column says so). */
  survivesAbortAll: boolean;
}

/** Milliseconds for TASKS tasks submitted at once, each with `options()`. */
async function burst(contender: Contender, options: () => object): Promise<number> {
  const started = performance.now();
  await Promise.all(Array.from({ length: TASKS }, (_, i) => contender.run(i, options())));
  return performance.now() - started;
}

/** Milliseconds from abort() until TASKS tasks under that signal have all rejected. */
async function abortAll(contender: Contender): Promise<number> {
  const controller = new AbortController();
  const tasks = Array.from(
    { length: TASKS },
    (_, i) => contender.run(i, { signal: controller.signal }).catch(() => 0),
  );
  const started = performance.now();
  controller.abort();
  await Promise.all(tasks);
  return performance.now() - started;
}

/** Errors thrown outside any task (piscina's "Unexpected message from Worker"), by name. */
const uncaught: string[] = [];
globalThis.addEventListener("error", (event) => {
  event.preventDefault(); // recorded, not fatal: the row says the column failed
  uncaught.push(String(event.error?.message ?? event.message).split(":")[0]!);
});

/** `run()`'s milliseconds, or what went wrong outside the tasks while it ran. */
async function timed(run: () => Promise<number>): Promise<number | string> {
  const before = uncaught.length;
  const ms = await run();
  return uncaught.length > before ? `fails ("${uncaught[before]}")` : ms;
}

async function measure(contender: Contender): Promise<string> {
  for (let i = 0; i < 2000; i++) await contender.run(i, {});
  const columns: (number | string)[][] = [[], [], [], []];
  for (let round = 0; round < ROUNDS; round++) {
    const controller = new AbortController();
    columns[0]!.push(await timed(() => burst(contender, () => ({}))));
    columns[1]!.push(await timed(() => burst(contender, () => ({ timeout: 60_000 }))));
    columns[2]!.push(await timed(() => burst(contender, () => ({ signal: controller.signal }))));
    columns[3]!.push(
      contender.survivesAbortAll || PEER_ABORT
        ? await timed(() => abortAll(contender))
        : "not run: ends the process (`--peer-abort`)",
    );
  }
  await contender.close();
  const cell = (values: (number | string)[]): string => {
    const failed = values.find((value) => typeof value === "string");
    return failed !== undefined ? String(failed) : `${median(values as number[]).toFixed(0)} ms`;
  };
  return `| ${contender.name} | ${columns.map(cell).join(" | ")} |`;
}

console.log(`\n## ${TASKS} tiny tasks at once, 2 workers (median of ${ROUNDS})\n`);
console.log("| pool | no options | a timeout each | one signal for all | all aborted at once |");
console.log("|---|---|---|---|---|");
const pool = new Pool({ size: 2 });
console.log(
  await measure({
    name: "theta Pool",
    run: (x, options) => pool.run((y: number) => y + 1, [x], options),
    close: () => pool.close(),
    survivesAbortAll: true,
  }),
);
const piscina = new Piscina({ filename: PEER_TASK.href, minThreads: 2, maxThreads: 2 });
console.log(
  await measure({
    name: "piscina 5.3.2",
    // piscina has no per-task timeout: its row's "a timeout each" column runs without one.
    run: (x, options) => piscina.run(x, { signal: options.signal ?? null }),
    close: () => piscina.destroy(),
    survivesAbortAll: false,
  }),
);

console.log("\n## LocalExecutor, concurrency 4, tasks submitted at once\n");
console.log("| tasks | ms |\n|---|---|");
for (const count of [10_000, 40_000, 160_000]) {
  const executor = new LocalExecutor({ concurrency: 4 });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: count }, (_, i) => executor.submit((x) => Promise.resolve(x), i)),
  );
  console.log(`| ${count} | ${(performance.now() - started).toFixed(0)} |`);
}
