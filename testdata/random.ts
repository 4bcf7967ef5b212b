// Test helper: random numbers from a fixed seed, so that a failing run replays the same steps.

/**
 * A Lehmer (MINSTD) generator: each call returns the next number in [0, 1).
 *
 * @param seed The start, from 1 to 2^31 - 2.
 */
export function seededRandom(seed = 1): () => number {
  return () => (seed = (seed * 48271) % 0x7fffffff) / 0x7fffffff;
}
