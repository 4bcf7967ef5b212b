// One-at-a-time calls to a pool worker that went idle between them (a server's sporadic requests):
// each call waits `gap` ms on a timer first, so the worker has stopped polling and sleeps. Prints
// how the calls' times spread. Run:
//   deno run --allow-read --allow-env bench/idle_calls.ts [gap ms, default 1] [calls, default 1000]
import { Pool } from "../pool.ts";
import { percentile } from "./_median.ts";

const gap = Number(Deno.args[0] ?? 1);
const count = Number(Deno.args[1] ?? 1000);

await using pool = new Pool({ size: 1 });
const inc = (y: number): number => y + 1;
for (let i = 0; i < 3000; i++) await pool.run(inc, [i]);
const calls: number[] = [];
for (let i = 0; i < count; i++) {
  await new Promise((resolve) => setTimeout(resolve, gap));
  const started = performance.now();
  await pool.run(inc, [i]);
  calls.push((performance.now() - started) * 1000);
}
calls.sort((a, b) => a - b);
const mean = calls.reduce((sum, us) => sum + us, 0) / calls.length;
console.log(
  `${count} calls after ${gap} ms idle, us: mean ${mean.toFixed(1)}, p50 ${
    percentile(calls, 0.5).toFixed(1)
  }, p90 ${percentile(calls, 0.9).toFixed(1)}, p99 ${percentile(calls, 0.99).toFixed(1)}`,
);
const edges = [0, 40, 60, 100, 500, 1000, Infinity];
console.log(
  edges.slice(1).map((edge, i) => {
    const inside = calls.filter((us) => us > edges[i]! && us <= edge).length;
    return `${edges[i]}-${edge} us: ${inside}`;
  }).join(", "),
);
