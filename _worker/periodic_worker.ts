// Copyright theta authors. MIT license.
// A Periodic's worker: runs the target on its schedule until killed.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and import only bundled modules.

import { Termination } from "../_futex.ts";
import { fromWire } from "../_shareable.ts";
import { Event } from "../sync.ts";
import {
  epochNow,
  PERIODIC_CRIT,
  PERIODIC_KILLED,
  PERIODIC_MIN_WAIT,
  PERIODIC_PERIOD,
  PERIODIC_SEQ,
  PERIODIC_STARTED,
  type PeriodicWorkerInit,
  STAT_ACC_DELAY,
  STAT_COUNT,
  STAT_DELAY,
  STAT_ERRORS,
  STAT_LAST,
  STAT_NEXT,
  STAT_USAGE,
} from "../_thread/protocol.ts";
import { installExitHooks, type WorkerScope } from "./exit_hooks.ts";
import { idleWait, LiveTimers } from "./idle.ts";
import { invoke, loadTarget } from "./task_function.ts";
import { packOutcome } from "./outcome.ts";
import { WorkerContext } from "./context.ts";

/**
 * A Periodic's worker loop. Between runs it waits on the control word as an idle worker does
 * (idleWait: mostly Atomics.wait, with the event loop turned so that what a run left behind still
 * runs), so start, stop, kill and period changes take effect at once, with no message to process.
 * The schedule compensates for the target's run time: the next start is the previous scheduled
 * start plus the period, or, when that is already past, the end of the run plus `minWait`.
 */
export async function runPeriodic(scope: WorkerScope, init: PeriodicWorkerInit): Promise<void> {
  const control = new Int32Array(init.control, 0, 4);
  const settings = new Float64Array(init.control, 16, 2);
  const stats = new Float64Array(init.stats);
  // Killed means killed: a run still blocked in a wait when kill() gives up on it ends there.
  Termination.install(control, PERIODIC_KILLED, PERIODIC_CRIT);
  LiveTimers.install();
  const quit = installExitHooks(scope, () => scope.postMessage({ kind: "exited" }));
  const context = new WorkerContext(Event.from(init.stop), init.name);
  let fn: (...args: unknown[]) => unknown;
  let args: unknown[];
  try {
    fn = await loadTarget(init.target);
    args = [context, ...(fromWire(init.args) as unknown[])];
  } catch (error) {
    scope.postMessage({ kind: "failed", outcome: packOutcome(false, error, "the error") });
    quit();
    return;
  }
  try {
    await periodicLoop(control, settings, stats, fn, args, scope, init.reportResults);
  } catch (error) {
    if (!Termination.requested()) throw error;
  }
  context.dispose();
  scope.postMessage({ kind: "ended" });
  quit();
}

/** The schedule of runPeriodic: runs until killed. */
export async function periodicLoop(
  control: Int32Array,
  settings: Float64Array,
  stats: Float64Array,
  fn: (...args: unknown[]) => unknown,
  args: unknown[],
  scope: WorkerScope,
  reportResults: boolean,
): Promise<void> {
  let scheduled = NaN; // the last run's scheduled start; NaN: run as soon as started
  let floor = -Infinity; // the last run's end plus minWait
  let firstStart = NaN;
  let busy = 0;
  for (;;) {
    const seq = Atomics.load(control, PERIODIC_SEQ);
    if (Atomics.load(control, PERIODIC_KILLED) !== 0) break;
    if (Atomics.load(control, PERIODIC_STARTED) === 0) {
      scheduled = NaN;
      stats[STAT_NEXT] = NaN;
      await idleWait(control, PERIODIC_SEQ, seq, Infinity);
      continue;
    }
    const now = epochNow();
    // Read the period each time: a change applies to the run being waited for.
    const next = Number.isNaN(scheduled)
      ? now
      : Math.max(scheduled + settings[PERIODIC_PERIOD]!, floor);
    stats[STAT_NEXT] = next;
    if (now < next) {
      await idleWait(control, PERIODIC_SEQ, seq, next - now);
      continue;
    }
    if (Number.isNaN(firstStart)) firstStart = now;
    scheduled = next;
    stats[STAT_DELAY] = now - next;
    stats[STAT_ACC_DELAY] = stats[STAT_ACC_DELAY]! + (now - next);
    stats[STAT_LAST] = now;
    let ok = true;
    let value: unknown;
    try {
      value = await invoke(fn, args);
    } catch (error) {
      ok = false;
      value = error;
    }
    const end = epochNow();
    busy += end - now;
    stats[STAT_COUNT] = stats[STAT_COUNT]! + 1;
    if (!ok) stats[STAT_ERRORS] = stats[STAT_ERRORS]! + 1;
    stats[STAT_USAGE] = end > firstStart ? busy / (end - firstStart) : 0;
    floor = end + settings[PERIODIC_MIN_WAIT]!;
    if (!ok || reportResults) {
      scope.postMessage({
        kind: "result",
        outcome: packOutcome(ok, value, ok ? "the periodic result" : "the periodic error"),
      });
    }
  }
}
