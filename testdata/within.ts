// Test helpers for waiting on a promise or a condition; the bounded ones fail a test that would hang.

/** Rejects if `promise` does not settle within `ms`, so that a hang fails the test. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Resolves once `condition()` holds; rejects after `timeout` ms (a condition, not a sleep). */
export async function waitFor(condition: () => boolean, timeout = 5000): Promise<void> {
  const deadline = performance.now() + timeout;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error("Condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * Resolves once the async `condition()` holds, checking every 10 ms. No deadline of its own: the
 * caller bounds it (a job pool's status, read from its store).
 */
export async function waitForAsync(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 10));
}
