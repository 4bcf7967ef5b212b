// When does a Pool help? CPU-bound synchronous work against async work the runtime already runs
// off the main thread (crypto.subtle). Run:
//   deno run --allow-read --allow-env bench/when_pool_helps.ts
import { Pool } from "../pool.ts";
import { median } from "./_median.ts";

const JOBS = 8;
const BUFFERS = 64;
const BUFFER_BYTES = 1024 * 1024;

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

async function time(what: string, fn: () => Promise<unknown>): Promise<number> {
  await fn(); // warm-up
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    await fn();
    runs.push(performance.now() - start);
  }
  const middle = median(runs);
  console.log(`${what}: ${middle.toFixed(1)} ms`);
  return middle;
}

const size = navigator.hardwareConcurrency;
await using pool = new Pool<typeof import("./_cpu_task.ts")>({
  size,
  minSize: size,
  module: new URL("./_cpu_task.ts", import.meta.url),
});
console.log(`# When a Pool helps (Deno ${Deno.version.deno}, ${size} cores, median of 5)\n`);

const cpuMain = await time(`CPU-bound: ${JOBS} x fib(32) on the main thread`, () => {
  for (let i = 0; i < JOBS; i++) fib(32);
  return Promise.resolve();
});
const cpuPool = await time(
  `CPU-bound: ${JOBS} x fib(32) on a ${size}-worker pool`,
  () => Promise.all(Array.from({ length: JOBS }, () => pool.run("fib", [32]))),
);
console.log(`speedup: ${(cpuMain / cpuPool).toFixed(2)}x\n`);

const buffers = Array.from({ length: BUFFERS }, () => new Uint8Array(BUFFER_BYTES).fill(7));
const hashMain = await time(
  `async I/O-like: SHA-256 of ${BUFFERS} x 1 MiB with crypto.subtle on the main thread`,
  () => Promise.all(buffers.map((b) => crypto.subtle.digest("SHA-256", b))),
);
const hashPool = await time(
  `async I/O-like: the same hashes in pool tasks (buffers copied to the workers)`,
  () =>
    Promise.all(
      buffers.map((b) => pool.run("sha256", [b])),
    ),
);
console.log(`speedup: ${(hashMain / hashPool).toFixed(2)}x`);
