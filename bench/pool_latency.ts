// The distribution of one-at-a-time call latency of a theta Pool (2 workers, tiny task): where
// the mean comes from. Run:
//   deno run --allow-read --allow-env bench/pool_latency.ts
import { Pool } from "../pool.ts";
import { percentile } from "./_median.ts";

const WARM_UP = 3000;
const ROUNDS = 5;
const CALLS = 3000;

await using pool = new Pool({ size: 2 });
const inc = (y: number): number => y + 1;
for (let i = 0; i < WARM_UP; i++) await pool.run(inc, [i]);
const calls: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < CALLS; i++) {
    const started = performance.now();
    await pool.run(inc, [i]);
    calls.push((performance.now() - started) * 1000);
  }
}
calls.sort((a, b) => a - b);
const at = (q: number): string => percentile(calls, q).toFixed(1);
const total = calls.reduce((sum, us) => sum + us, 0);
console.log(
  `${calls.length} calls, us: mean ${(total / calls.length).toFixed(1)}, p50 ${at(0.5)}, p90 ${
    at(0.9)
  }, p99 ${at(0.99)}, p99.9 ${at(0.999)}, max ${calls.at(-1)!.toFixed(0)}`,
);
const edges = [20, 50, 100, 200, 500, 1000, 5000, Infinity];
const rows = edges.slice(1).map((edge, i) => {
  const inside = calls.filter((us) => us > edges[i]! && us <= edge);
  const share = inside.reduce((sum, us) => sum + us, 0) / total;
  return `| ${edges[i]}-${edge} | ${inside.length} | ${(share * 100).toFixed(0)}% |`;
});
console.log("\n| call took, us | calls | share of the total time |\n|---|---|---|");
console.log(rows.join("\n"));
