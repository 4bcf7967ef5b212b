// Tasks for kv_test.ts, shared by the test process and the listener processes it spawns.
export function add(a: number, b: number): number {
  return a + b;
}

/** When it started (epoch ms): the pickup latency of a job is this minus its enqueue time. */
export function startedAt(): number {
  return Date.now();
}

export function fail(message: string): never {
  throw new RangeError(message);
}

/** Hangs in a process started with THETA_HANG set; returns at once elsewhere. */
export async function hangInChild(): Promise<string> {
  if (Deno.env.get("THETA_HANG") !== undefined) {
    await new Promise(() => setInterval(() => {}, 1000));
  }
  return `ran in ${Deno.pid}`;
}

/** Keeps its thread busy for `ms` without yielding: a CPU-bound job. */
export function spin(ms: number): number {
  const until = Date.now() + ms;
  let spins = 0;
  while (Date.now() < until) spins++;
  return spins;
}
