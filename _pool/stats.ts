// Copyright theta authors. MIT license.
// A pool's timing statistics: run and wait times, and how busy its workers were.

/** A summary of durations, in ms. */
export interface TimeSummary {
  /** Median of the recent window (the last 4096 tasks). */
  p50: number;
  /** 99th percentile of the recent window. */
  p99: number;
  /** Largest since the pool was created. */
  max: number;
  /** Mean since the pool was created. */
  mean: number;
}

/** Samples kept for percentiles. */
export const STATS_WINDOW = 4096;

/** Durations: all-time count, sum and max, and a ring of recent samples for percentiles. */
export class Durations {
  readonly #recent: Float64Array = new Float64Array(STATS_WINDOW);
  #count = 0;
  #sum = 0;
  #max = 0;

  /** Adds one duration in ms. */
  add(ms: number): void {
    this.#recent[this.#count % STATS_WINDOW] = ms;
    this.#count++;
    this.#sum += ms;
    if (ms > this.#max) this.#max = ms;
  }

  /** The summary; zeros before the first sample. */
  summary(): TimeSummary {
    const n = Math.min(this.#count, STATS_WINDOW);
    if (n === 0) return { p50: 0, p99: 0, max: 0, mean: 0 };
    const sorted = this.#recent.slice(0, n).sort();
    const at = (q: number): number => sorted[Math.min(n - 1, Math.floor(q * n))]!;
    return { p50: at(0.5), p99: at(0.99), max: this.#max, mean: this.#sum / this.#count };
  }
}

/** Run time, wait time and utilization of one pool. */
export class PoolTimings {
  readonly runTime: Durations = new Durations();
  readonly waitTime: Durations = new Durations();
  /** Ms workers spent running tasks. */
  #busy = 0;
  /** Ms of life of the workers already retired. */
  #retiredLife = 0;

  /** A task finished in a worker: it waited `waitMs` (from `run` to its start), ran `runMs`. */
  record(waitMs: number, runMs: number): void {
    this.runTime.add(runMs);
    this.waitTime.add(Math.max(0, waitMs));
    this.#busy += runMs;
  }

  /** A worker that lived `lifeMs` was retired. */
  retired(lifeMs: number): void {
    this.#retiredLife += lifeMs;
  }

  /**
   * The busy fraction of worker time so far.
   *
   * @param liveLife Ms of life of the workers alive now.
   */
  utilization(liveLife: number): number {
    const life = this.#retiredLife + liveLife;
    return life > 0 ? Math.min(1, this.#busy / life) : 0;
  }
}
