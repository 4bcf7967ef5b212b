// The median the benchmarks report (the middle value; the upper one of an even count).

/** The median of `values` (left unsorted). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
