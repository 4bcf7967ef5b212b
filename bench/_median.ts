// The order statistics the benchmarks report: percentiles of sorted samples, and the median.

/** The value at fraction `q` of `sorted` (ascending): index floor(q * n), the last for q = 1. */
export function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

/** The median of `values` (left unsorted): the upper middle value of an even count. */
export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 0.5);
}
