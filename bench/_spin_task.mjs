// deno-lint-ignore-file explicit-function-return-type explicit-module-boundary-types
// The same CPU-bound task for piscina (a worker file with a default export).
export default function spin(us) {
  const until = performance.now() + us / 1000;
  let n = 0;
  while (performance.now() < until) n++;
  return n;
}
