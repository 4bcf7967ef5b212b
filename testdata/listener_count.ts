// Test helper: counts the "abort" listeners theta adds to a signal, to check that many tasks or
// waits under one signal share one listener.

/** The listeners on a spied signal: how many now, and the most at once. */
export interface ListenerCount {
  live: number;
  most: number;
}

/**
 * Spies on `signal`'s addEventListener and removeEventListener (a listener added with `once`
 * and then fired is not seen leaving: check `live` before an abort, `most` after).
 */
export function countListeners(signal: AbortSignal): ListenerCount {
  const count: ListenerCount = { live: 0, most: 0 };
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (...args: Parameters<typeof add>) => {
    count.most = Math.max(count.most, ++count.live);
    add(...args);
  };
  signal.removeEventListener = (...args: Parameters<typeof remove>) => {
    count.live--;
    remove(...args);
  };
  return count;
}
