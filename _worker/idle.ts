// Copyright theta authors. MIT license.
// How an idle theta worker waits: never so that its event loop stops for good. A worker asleep in
// Atomics.wait runs nothing else, so what its last task or run left behind (a timer, unawaited
// I/O, a rejection no one handled) would wait for the next one that happens to yield, and with
// none, forever. Not on the event loop all the time either: a worker that waited there, or only
// turned it, wakes 15-20 us later for the next request, for tens of milliseconds after (calls to
// a pool worker idle 1 or 20 ms: 60-100 us for half of them against 40-60 us, bench/README.md).
// So: on the event loop while timers are live (they fire on time), else in Atomics.wait for
// IDLE_TURN_MS at a time with one event-loop turn between.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and import only bundled modules.

import { HOLD_OPEN_MS, KILL_CHECK_MS, waitAsync, waitSync } from "../_futex.ts";

/**
 * Longest an idle worker without timers sleeps before it turns its event loop again, in ms: what
 * a finished task left to finish on its own (an unawaited read, a promise another thread
 * settles, a rejection to report) is handled within this time. The same as KILL_CHECK_MS, whose
 * wake-ups it shares.
 */
export const IDLE_TURN_MS = KILL_CHECK_MS;

/** A timer callback as theta's wrappers take and return it. */
export type TimerCallback = (...args: unknown[]) => unknown;

/**
 * The timers of this worker that have yet to fire (intervals: until cleared). The one wrapper of
 * the global timer functions in a worker: a pool worker also attributes each callback to the task
 * that set it, through `wrap`.
 */
export class LiveTimers {
  static readonly ids: Set<unknown> = new Set();
  static #installed = false;

  /**
   * Wraps the global timer functions to keep `ids` (once per worker).
   *
   * @param wrap Makes each function callback's stand-in when the timer is set.
   */
  static install(wrap: (callback: TimerCallback) => TimerCallback = (callback) => callback): void {
    if (LiveTimers.#installed) return;
    LiveTimers.#installed = true;
    const scope = globalThis as unknown as Record<string, unknown>;
    const ids = LiveTimers.ids;
    for (const name of ["setTimeout", "setInterval"]) {
      const original = scope[name] as (...args: unknown[]) => unknown;
      const once = name === "setTimeout";
      scope[name] = function (callback: unknown, delay?: number, ...args: unknown[]): unknown {
        // A string callback (the runtime evaluates it) is not tracked: an idle worker still runs
        // it within IDLE_TURN_MS of its time.
        if (typeof callback !== "function") return original(callback, delay, ...args);
        const run = wrap(callback as TimerCallback);
        // Nor is holdOpen's keep-alive, which never fires: theta's own waits hold one for as
        // long as they wait (a thread's stop watch, for life).
        if (delay === HOLD_OPEN_MS) return original(run, delay, ...args);
        const id = original(
          function (this: unknown, ...params: unknown[]): unknown {
            if (once) ids.delete(id);
            return run.apply(this, params);
          },
          delay,
          ...args,
        );
        ids.add(id);
        return id;
      };
    }
    // Either clears either kind of timer, as on the web.
    for (const name of ["clearTimeout", "clearInterval"]) {
      const original = scope[name] as (id: unknown) => void;
      scope[name] = function (id: unknown): void {
        ids.delete(id);
        original(id);
      };
    }
  }
}

/** Runs `fn` on a later turn of the event loop, as a macrotask (setImmediate where it exists). */
export function nextMacrotask(fn: () => void): void {
  const { setImmediate } = globalThis as { setImmediate?: (fn: () => void) => void };
  if (setImmediate !== undefined) setImmediate(fn);
  else setTimeout(fn, 0);
}

/** Resolves on a later turn of the event loop (see nextMacrotask). */
export function turn(): Promise<void> {
  return new Promise((resolve) => nextMacrotask(resolve));
}

/**
 * Waits while `i32[index] === expected`, for at most `timeout` ms, as an idle worker (see the
 * file comment). It may return early, with nothing changed (after IDLE_TURN_MS and a turn of the
 * event loop): callers check their state again.
 *
 * @throws {Error} If this worker is being terminated (see Termination in _futex.ts).
 */
export async function idleWait(
  i32: Int32Array,
  index: number,
  expected: number,
  timeout: number,
): Promise<void> {
  if (LiveTimers.ids.size > 0) {
    // How it ended is not read: the caller checks its state again either way.
    await waitAsync(i32, index, expected, timeout);
    return;
  }
  const result = waitSync(i32, index, expected, Math.min(timeout, IDLE_TURN_MS));
  if (result === "timed-out" && timeout > IDLE_TURN_MS) await turn();
}
