// Test helper: counts the Atomics.waitAsync calls of this thread, to check how often waiters are
// woken and wait again.

/** The count so far; `restore()` puts the real Atomics.waitAsync back. */
export interface WaitCount extends Disposable {
  waits: number;
  restore(): void;
}

/** Spies on Atomics.waitAsync until `restore()` (or the end of a `using` block). */
export function countWaits(): WaitCount {
  const real = Atomics.waitAsync;
  const count: WaitCount = {
    waits: 0,
    restore: () => {
      Atomics.waitAsync = real;
    },
    [Symbol.dispose]: () => count.restore(),
  };
  Atomics.waitAsync = ((...args: Parameters<typeof real>) => {
    count.waits++;
    return real(...args);
  }) as typeof real;
  return count;
}
