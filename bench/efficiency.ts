// The share of the machine a pool turns into work: efficiency = (tasks x task length) /
// (wall time x busy cores), for 1/2/4/8 workers and tiny, 10 us, 100 us and 1 ms CPU-bound
// tasks, theta and piscina in the same run; each cell is the median of `--rounds` bursts (5, as
// bench/compare.ts; `--rounds=1` gives the first burst after the warm-up alone, JIT included).
// Run:
//   deno run --allow-read --allow-env --allow-sys bench/efficiency.ts
import { Piscina } from "piscina";
import { Pool } from "../pool.ts";
import { median } from "./_median.ts";

const CORES = navigator.hardwareConcurrency;
/** `--name=1,2,3` from the command line, or the default. */
function listArg(name: string, fallback: number[]): number[] {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : arg.slice(name.length + 3).split(",").map(Number);
}

// One cell alone, e.g. `--workers=1 --sizes=100,1000`, to measure it again and again.
const SIZES = listArg("sizes", [0, 10, 100, 1000]); // us of CPU per task (0: a tiny task)
const WORKERS = listArg("workers", [1, 2, 4, 8]);
const ROUNDS = listArg("rounds", [5])[0]!; // bursts per cell, of which the median
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  throw new RangeError(`Cannot measure ${ROUNDS} bursts per cell: --rounds must be at least 1`);
}
const BUDGET_MS = 300; // CPU work per burst (tiny tasks: a fixed count)

interface Runner {
  run(us: number): Promise<unknown>;
  close(): Promise<unknown>;
}

function theta(workers: number): Runner {
  const pool = new Pool<typeof import("./_spin_task.ts")>({
    size: workers,
    minSize: workers,
    module: new URL("./_spin_task.ts", import.meta.url),
  });
  return { run: (us) => pool.run("spin", [us]), close: () => pool.close() };
}

function piscina(workers: number): Runner {
  const pool = new Piscina({
    filename: new URL("./_spin_task.mjs", import.meta.url).href,
    minThreads: workers,
    maxThreads: workers,
  });
  return { run: (us) => pool.run(us), close: () => pool.destroy() };
}

/** Efficiency of one cell (the median of ROUNDS bursts); for tiny tasks, tasks per second. */
async function cell(
  make: (workers: number) => Runner,
  workers: number,
  us: number,
): Promise<string> {
  const runner = make(workers);
  const count = us === 0 ? 20_000 : Math.max(workers * 4, Math.round((BUDGET_MS * 1000) / us));
  await Promise.all(Array.from({ length: Math.min(count, 200) }, () => runner.run(us))); // warm up
  const walls: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    await Promise.all(Array.from({ length: count }, () => runner.run(us)));
    walls.push(performance.now() - started);
  }
  await runner.close();
  const wall = median(walls);
  if (us === 0) return `${Math.round(count / (wall / 1000) / 1000)} k/s`;
  return ((count * us) / 1000 / (wall * Math.min(workers, CORES))).toFixed(2);
}

console.log(`# Pool efficiency (Deno ${Deno.version.deno}, ${CORES} cores)\n`);
console.log(
  `work done / (wall time x busy cores), median of ${ROUNDS} bursts; tiny tasks: tasks per second\n`,
);
const label = (us: number): string =>
  us === 0 ? "tiny" : us >= 1000 ? `${us / 1000} ms` : `${us} us`;
console.log(`| workers | pool | ${SIZES.map(label).join(" | ")} |`);
console.log(`|---|---|${SIZES.map(() => "---").join("|")}|`);
for (const workers of WORKERS) {
  for (const [name, make] of [["theta", theta], ["piscina", piscina]] as const) {
    const cells: string[] = [];
    for (const us of SIZES) cells.push(await cell(make, workers, us));
    console.log(`| ${workers} | ${name} | ${cells.join(" | ")} |`);
  }
}
