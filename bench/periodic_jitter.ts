// Periodic's timing jitter: how late each run starts against its schedule.
// Run: npx --yes deno@2.9.6 run --allow-read --allow-env bench/periodic_jitter.ts
import { Periodic } from "../thread.ts";
import { percentile } from "./_median.ts";

/** Starts of `runs` runs at `period` ms; lateness = start - (first start + i * period). */
async function lateness(period: number, runs: number): Promise<number[]> {
  const starts: number[] = [];
  const done = Promise.withResolvers<void>();
  await using job = new Periodic(() => performance.timeOrigin + performance.now(), {
    period,
    start: true,
    onResult: (time) => {
      starts.push(time);
      if (starts.length === runs) done.resolve();
    },
  });
  await done.promise;
  job.stop();
  return starts.map((start, i) => start - (starts[0]! + i * period));
}

console.log("| period | runs | p50 late | p99 late | max late |");
console.log("|---|---|---|---|---|");
for (const [period, runs] of [[10, 500], [100, 100]] as const) {
  const late = (await lateness(period, runs)).sort((a, b) => a - b);
  const ms = (value: number): string => `${value.toFixed(3)} ms`;
  console.log(
    `| ${period} ms | ${runs} | ${ms(percentile(late, 0.5))} | ${ms(percentile(late, 0.99))} | ${
      ms(late[late.length - 1]!)
    } |`,
  );
}
