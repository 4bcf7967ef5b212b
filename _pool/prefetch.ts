// Copyright theta authors. MIT license.
// How many tasks the pool sends a worker ahead of the one it runs: deep for tiny tasks, so that a
// worker runs many per wake-up of the main thread, shallow for long ones, so that tasks do not
// stand in line at one worker while another goes idle.

import {
  BELL_HUNGRY_AT,
  MAX_PREFETCH,
  POLL_AHEAD_MS,
  PREFETCH_AHEAD_MS,
  PREFETCH_MIN,
  PREFETCH_START,
} from "./protocol.ts";

/** The prefetch depth, from a moving mean of the tasks' run times, published to the workers. */
export class PrefetchDepth {
  /** Tasks a worker may hold (running or waiting): between PREFETCH_MIN and MAX_PREFETCH. */
  depth: number = PREFETCH_START;
  /** Exponential moving mean of run times in ms (weight 1/8 to the newest), NaN before any. */
  #meanMs = NaN;
  /** The pool's doorbell, where BELL_HUNGRY_AT tells workers when to ask for more. */
  readonly #bell: Int32Array;

  constructor(bell: Int32Array) {
    this.#bell = bell;
    this.#publish();
  }

  /** A task ran `runMs` in its worker. */
  record(runMs: number): void {
    const mean = Number.isNaN(this.#meanMs) ? runMs : this.#meanMs + (runMs - this.#meanMs) / 8;
    this.#meanMs = mean;
    // The running task, and enough waiting ones for PREFETCH_AHEAD_MS.
    const depth = mean * (MAX_PREFETCH - 1) <= PREFETCH_AHEAD_MS
      ? MAX_PREFETCH
      : Math.max(PREFETCH_MIN, 1 + Math.round(PREFETCH_AHEAD_MS / mean));
    if (depth === this.depth) return;
    this.depth = depth;
    this.#publish();
  }

  /**
   * True when even a full prefetch holds less work than POLL_AHEAD_MS (tiny tasks): a worker
   * then runs dry faster than a napping main thread wakes, so the pump should poll.
   */
  get shortAhead(): boolean {
    return this.#meanMs * MAX_PREFETCH < POLL_AHEAD_MS;
  }

  #publish(): void {
    Atomics.store(this.#bell, BELL_HUNGRY_AT, Math.max(1, this.depth >> 2));
  }
}
