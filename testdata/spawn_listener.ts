// Starts a listener process (testdata/kv_listener.ts, testdata/bull_listener.ts) for the job pool
// tests and bench/kv_jobs.ts; resolves once it printed "listening". It ends when its stdin closes.

/** Runs `script` with `args` in a child deno; resolves once it listens. */
export async function spawnListener(
  script: URL,
  args: string[],
  env: Record<string, string> = {},
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-kv", "-A", script.pathname, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    env,
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  if (!/listening/.test(value ?? "")) throw new Error(`${script.pathname} did not start: ${value}`);
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return child;
}
