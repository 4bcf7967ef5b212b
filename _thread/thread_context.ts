// Copyright theta authors. MIT license.
// What a thread's or periodic's target receives: its context, and the target's type.

import type { Event } from "../sync.ts";

/**
 * What a thread's target sees of its thread, inside the worker.
 */
export interface ThreadContext {
  /** True until stop is requested. */
  running(): boolean;
  /** True once stop is requested. */
  stopped(): boolean;
  /**
   * Blocks on the stop event.
   *
   * @param timeout Milliseconds at most; no limit if undefined.
   * @returns True if stop was requested, false on timeout.
   */
  wait(timeout?: number): boolean;
  /**
   * Waits on the stop event without blocking the worker's event loop.
   *
   * @param timeout Milliseconds at most; no limit if undefined.
   * @returns True if stop was requested, false on timeout.
   */
  waitAsync(timeout?: number): Promise<boolean>;
  /** The stop event, shared with the owner (and whoever else holds it). */
  readonly stopEvent: Event;
  /** Aborts when stop is requested: hand it to `fetch` and other async work. */
  readonly signal: AbortSignal;
  /** The thread's name. */
  readonly name: string;
}

/**
 * A thread's code: a self-contained function called with its {@linkcode ThreadContext} and
 * arguments, in its own worker.
 */
export type ThreadTarget<A extends unknown[], R> = (
  thread: ThreadContext,
  ...args: A
) => R | Promise<R>;
