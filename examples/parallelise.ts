// mt.base's bg_invoke, in theta: parallelise with a progress line, BgInvoke (a one-shot
// background invocation), BgThread (repeated invocations, one at a time) and BgException.
// Run: npx --yes deno@2.9.6 run examples/parallelise.ts
import { BackgroundError, parallelise, Pool, StoppableThread } from "../mod.ts";

// parallelise(func, num_jobs, *fn_args): jobs run on ~80% of the cores.
function fib(jobId: number, n: number): number {
  const f = (k: number): number => k < 2 ? k : f(k - 1) + f(k - 2);
  return f(n + (jobId % 2));
}
console.log("parallelise:", await parallelise(fib, 6, { args: [25] }));

// bg_exception="raise": the first failure rejects with a BackgroundError naming the job.
try {
  await parallelise((jobId: number) => {
    if (jobId === 3) throw new RangeError("job 3 failed");
    return jobId;
  }, 5);
} catch (error) {
  if (error instanceof BackgroundError) {
    console.log(`BgException from job ${error.jobId}: ${(error.cause as Error).message}`);
  }
}

// BgInvoke(slow_count, nbTimes): one invocation in the background; poll is_running(), read result.
function slowCount(_thread: unknown, nbTimes: number): number {
  let cnt = 0;
  for (let i = 0; i < nbTimes; i++) cnt = cnt + 1;
  return cnt;
}
const a = new StoppableThread(slowCount, { args: [10_000_000] }).start();
while (a.isAlive()) await new Promise((resolve) => setTimeout(resolve, 5)); // a.is_running()
console.log("BgInvoke result:", await a.join()); // a.result

// BgThread(func): invoke() waits for the previous call to finish, then runs the next one in the
// background. A Pool of one worker does exactly that: calls queue up and run one at a time.
await using bgThread = new Pool({ size: 1 });
const square = (x: number): number => x * x;
const first = bgThread.run(square, [3]); // invoke(3)
const second = bgThread.run(square, [4]); // invoke(4): runs after the first
console.log("BgThread results:", await first, await second);
