// Copyright theta authors. MIT license.
// The wire protocol between thread.ts's classes (StoppableThread, Periodic, PollingMap) and their
// workers (_worker/thread_worker.ts, periodic_worker.ts, polling_worker.ts): init records, the
// words of their shared control blocks, and the messages they exchange.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and import only bundled modules.

import type { EventHandle } from "../sync.ts";
import type { TargetSpec } from "../_worker/task_function.ts";

/** A thread's status word: running, then done once its target settled. */
export const THREAD_RUNNING = 0;
export const THREAD_DONE = 1;
/** A thread's status block: its status word, then its kill word (see Termination). */
export const THREAD_KILL = 1;
/** Then its critical-section count (see Termination in _futex.ts). */
export const THREAD_CRIT = 2;
export const THREAD_STATUS_BYTES = 12;

/** What a StoppableThread sends its worker. */
export interface ThreadWorkerInit {
  role: "thread";
  target: TargetSpec;
  args: unknown;
  stop: EventHandle;
  status: SharedArrayBuffer;
  name: string;
}

/** Words of a Periodic's control block (Int32), then its settings (Float64 from byte 16). */
export const PERIODIC_STARTED = 0;
export const PERIODIC_KILLED = 1;
export const PERIODIC_SEQ = 2;
/** The periodic worker's critical-section count (see Termination in _futex.ts). */
export const PERIODIC_CRIT = 3;
export const PERIODIC_PERIOD = 0;
export const PERIODIC_MIN_WAIT = 1;
export const PERIODIC_CONTROL_BYTES = 32;

/** Slots of a Periodic's stats block (Float64). */
export const STAT_COUNT = 0;
export const STAT_ERRORS = 1;
export const STAT_DELAY = 2;
export const STAT_ACC_DELAY = 3;
export const STAT_USAGE = 4;
export const STAT_NEXT = 5;
export const STAT_LAST = 6;
export const STAT_SLOTS = 7;

/** What a Periodic sends its worker. */
export interface PeriodicWorkerInit {
  role: "periodic";
  target: TargetSpec;
  args: unknown;
  stop: EventHandle;
  control: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  name: string;
  reportResults: boolean;
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across threads. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/** A PollingMap worker's termination block: its kill word, then its critical count. */
export const POLLING_KILL = 0;
export const POLLING_CRIT = 1;
export const POLLING_TERMINATION_BYTES = 8;

/** What a PollingMap sends its worker. */
export interface PollingWorkerInit {
  role: "polling";
  termination: SharedArrayBuffer;
  read: TargetSpec;
  write: TargetSpec | undefined;
}

/** Messages a PollingMap sends its worker after init. */
export type PollingRequest =
  | { kind: "poll"; id: number; key: unknown; period: number }
  | { kind: "unpoll"; id: number }
  | { kind: "refresh"; id: number; key: unknown; request: number }
  | { kind: "set"; key: unknown; value: unknown; request: number };
