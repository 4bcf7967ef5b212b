// Runs every example as a user would, checking that it exits 0 and prints what it promises.
import assert from "node:assert/strict";

const EXAMPLES: Record<string, RegExp[]> = {
  "store.ts": [/q \[ 0, 1, 2, 3, 4 \]/, /d \{ value: 5 \}/],
  "evicting_queue.ts": [
    /first item 3 then \[ 4, 5, 6, 7 \]/,
    /received until stopped \[ 0, 10, 20 \]/,
    /flushed \[ "a", "b" \] empty: true/,
  ],
  // Two ticks in 2.1 s when idle; under a loaded test run the second may miss its slot.
  "sleeper.ts": [/^INFO: Slept for between 1 and 2 seconds$/m],
  "sleeper_thread.ts": [/^INFO: Slept for between 1 and 2 seconds$/m],
  "threaded_object.ts": [/ran at \d{4}-/, /count: [4-7],/, /errors: 0/],
  "thread_dict.ts": [/Empty! <= test/, /10 => test/, /10 <= test/, /td\.get\('test'\) -> .*:10$/m],
  "worker_thread.ts": [/A1 callback: 42/, /command: 42/, /add callback: B2 = 200/],
  "callqueue.ts": [
    /\/about\/apps\/ \d+/,
    /example_CallQueue done\./,
    /my_thread terminated \(SystemExit\)\./,
    /1st snapshot: \d+ numbers/,
    /example2_CallQueue done\./,
  ],
  "channels.ts": [
    /\[ "ALPHA" \]/,
    /\[ "BETA", "GAMMA", "DELTA" \]/,
    /sum read in the worker: 5050/,
  ],
  "pipeline.ts": [/item 0\nitem 1\nitem 4/, /consumed 1000; the producer stopped after \d+ items/],
  "parallelise.ts": [
    /parallelise: \[ 75025, 121393, 75025, 121393, 75025, 121393 \]/,
    /BgException from job 3: job 3 failed/,
    /BgInvoke result: 10000000/,
    /BgThread results: 9 16/,
  ],
  "demo.ts": [/nothing lost/, /parallelise/, /KvPool/],
  // Needs a Redis: REDIS_URL, set by testdata/with_redis.ts around the test task.
  "bull_jobs.ts": [
    /8 jobs done on 2 listener processes: a-320px\.webp by process \d+/,
    /same key, same job: true -> cover-1200px\.webp/,
    /dead letter after 2 attempts: RangeError: cannot parse broken\.psd/,
  ],
};
/** Permissions beyond read and env, by example. */
const EXTRA_FLAGS: Record<string, string[]> = {
  "bull_jobs.ts": ["--allow-net", "--allow-run", "--allow-write"],
};
const REDIS_URL = Deno.env.get("REDIS_URL");

async function runExample(name: string): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-kv",
      "--allow-read",
      "--allow-env",
      ...EXTRA_FLAGS[name] ?? [],
      new URL(`./examples/${name}`, import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000), // an example that does not exit fails, not hangs
  }).output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, `${name} failed:\n${new TextDecoder().decode(stderr)}`);
  return text;
}

Deno.test("every example runs and prints what it promises", async (t) => {
  const runnable = Object.entries(EXAMPLES).filter(([name]) => {
    if (name !== "bull_jobs.ts" || REDIS_URL !== undefined) return true;
    console.warn("REDIS_URL is not set (no redis-server): bull_jobs.ts is skipped");
    return false;
  });
  // Started together: most of their time is waiting.
  const outputs = Object.fromEntries(runnable.map(([name]) => [name, runExample(name)]));
  for (const [name, patterns] of runnable) {
    await t.step(name, async () => {
      const output = await outputs[name]!;
      for (const pattern of patterns) assert.match(output, pattern);
    });
  }
});
