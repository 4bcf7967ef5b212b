// A CPU-bound task of a given length for bench/efficiency.ts: busy for `us` microseconds.
export function spin(us: number): number {
  const until = performance.now() + us / 1000;
  let n = 0;
  while (performance.now() < until) n++;
  return n;
}
