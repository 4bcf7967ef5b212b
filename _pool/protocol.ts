// Copyright theta authors. MIT license.
// The wire protocol between a Pool (main side, _pool/) and its workers (_worker/pool_worker.ts),
// imported by both sides: requests and replies as named records, the words of shared control
// blocks, and the messages that pair with ring records when a value must travel by postMessage.
//
// Transport. Each worker has a request ring (main -> worker) and a reply ring (worker -> main),
// both _ring.ts rings of codec-encoded records. A record is a flat array (the codec's cheapest
// shape); `requestRecord`/`readRequest` and `replyRecord`/`readReply` are the only places that
// know the field order. Arguments that hold shareable objects or transfers cannot be encoded:
// their request says REQUEST_BY_MESSAGE and the arguments follow as an `ArgsMessage` by
// postMessage; a result that holds shareables likewise comes as REPLY_BY_MESSAGE plus a
// `ResultMessage`. Either half may arrive first; both sides pair them by task id. Replies no
// task waits for (an error outside any task) come with a `RepliesWaitingMessage`.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and only functions, classes and primitives.

import type { RingHandle } from "../_ring.ts";

/** Request kinds. */
export const REQUEST_CALL = 0;
/** The arguments follow by postMessage as an `ArgsMessage` (shareables, transfers). */
export const REQUEST_BY_MESSAGE = 1;

/** Call modes: the task once with `args`, or the task on each item of `args[0]` (map chunks). */
export const MODE_ONCE = 0;
export const MODE_EACH = 1;

/** A task sent to a worker. */
export interface Request {
  kind: number;
  /** The task's id, unique in its pool. */
  id: number;
  /** A function's number in this pool, or a module export's name. */
  ref: number | string;
  /** The function's source, sent with the first task of that function to each worker. */
  source: string | undefined;
  /** Encoded arguments (REQUEST_CALL), or undefined (REQUEST_BY_MESSAGE). */
  args: unknown;
  mode: number;
  /** The index of the task's ticket in the worker's control block. */
  ticket: number;
}

/**
 * The ring record of a request (the fields of `Request`, in its order). Positional, as
 * `replyRecord`: V8 kept a `Request` object made only to be read here, about 80 bytes a task
 * (bench/README.md, "Allocations per task, measured again").
 */
export function requestRecord(
  kind: number,
  id: number,
  ref: number | string,
  source: string | undefined,
  args: unknown,
  mode: number,
  ticket: number,
): unknown[] {
  return [kind, id, ref, source, args, mode, ticket];
}

/** The request a ring record holds. */
export function readRequest(record: unknown): Request {
  const [kind, id, ref, source, args, mode, ticket] = record as [
    number,
    number,
    number | string,
    string | undefined,
    unknown,
    number,
    number,
  ];
  return { kind, id, ref, source, args, mode, ticket };
}

/** Reply kinds. */
export const REPLY_OK = 0;
export const REPLY_ERROR = 1;
/** The worker could not start (its module failed to load): `value` is the error. */
export const REPLY_START_FAILED = 3;
/** The running task closed the worker (`self.close()`, `Deno.exit()`). */
export const REPLY_EXITED = 4;
/** The result follows by postMessage as a `ResultMessage` (it holds shareables). */
export const REPLY_BY_MESSAGE = 5;
/**
 * The running task raised an uncaught error from a timer it scheduled: the task can never
 * settle, so the pool rejects it with WorkerCrashed and replaces the worker. `value`: the error.
 */
export const REPLY_CRASHED = 6;
/** An error raised outside any running task (a finished task's timer or rejection). */
export const REPLY_STRAY = 7;
/** The running task called `taskContext().progress(value)`: `value`, in order. */
export const REPLY_PROGRESS = 8;

/** A worker's answer. */
export interface Reply {
  kind: number;
  /** The task's id; 0 where the reply concerns no task. */
  id: number;
  value: unknown;
  /** For REPLY_OK and REPLY_ERROR: how long the task ran in its worker, in ms. */
  runMs: number;
}

/** The ring record of a reply. */
export function replyRecord(kind: number, id: number, value: unknown, runMs = 0): unknown[] {
  return [kind, id, value, runMs];
}

/**
 * The reply a ring record holds, in a new record or written into `into` (a pool drains thousands
 * of replies a second into one; whoever reads it takes its fields before reading another).
 */
export function readReply(record: unknown, into?: Reply): Reply {
  const [kind, id, value, runMs] = record as [number, number, unknown, number];
  if (into === undefined) return { kind, id, value, runMs };
  into.kind = kind;
  into.id = id;
  into.value = value;
  into.runMs = runMs;
  return into;
}

/** The arguments of a REQUEST_BY_MESSAGE task, by postMessage (after `toWire`). */
export interface ArgsMessage {
  id: number;
  args: unknown;
}

/** The result of a REPLY_BY_MESSAGE reply, by postMessage (after `toWire`). */
export interface ResultMessage {
  id: number;
  result: unknown;
}

/**
 * A worker's word that replies no task waits for are in its ring (REPLY_STRAY, or REPLY_EXITED
 * from an idle worker): the pool drains its rings only while tasks are in flight, so without it
 * they would wait for the next task. It carries nothing: the replies stay in the ring, in order.
 */
export interface RepliesWaitingMessage {
  repliesWaiting: true;
}

/** What a pool worker posts to its owner. */
export type WorkerMessage = ResultMessage | RepliesWaitingMessage;

/**
 * Largest encoded arguments or result of one task, in bytes. Larger values reject with a
 * RangeError; `transfer` moves large buffers by postMessage instead.
 */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;
/** Room for a record's own fields beside its payload. */
export const RECORD_SLACK_BYTES = 64 * 1024;

/**
 * A worker's tickets: one Int32 per task sent to it and not yet finished (prefetch), at
 * STATE_TICKETS + i, on cache lines of their own.
 *
 * State machine of a ticket word (written by both sides, always by compare-exchange except the
 * owner's own free/assign stores):
 *
 *   0 (free) --main assigns--> id (sent) --worker claims: CAS id -> -id--> -id (running)
 *   id (sent) --main steals or cancels: CAS id -> 0--> 0 (free; the worker skips the record)
 *   -id (running) --worker finishes: store 0--> 0, then the reply
 *
 * Exactly one of claim and steal wins, so a task sent ahead either runs or is taken back, never
 * both, and a crashed worker's running task is the one whose ticket is negative.
 */
export const MAX_PREFETCH = 128;
/**
 * How many tasks a worker is sent ahead before anything is known of their length, and the least
 * it is sent once they are known to be long: one to run and one waiting, so that a worker never
 * waits for the main thread between two tasks.
 */
export const PREFETCH_START = 4;
export const PREFETCH_MIN = 2;
/**
 * The work a worker is sent ahead of time, beside the task it runs, in ms of its tasks' mean run
 * time: enough to last through the pump's nap and wake-up (BELL_NAP_MS asked, 1-2 ms delivered on
 * a busy machine), so 100 us tasks go 31 at a time, 1 ms tasks 4, 3 ms and longer 2, and tiny ones
 * up to MAX_PREFETCH. Measured (bench/efficiency.ts, 2 cores, three runs each): 100 us tasks with
 * 2 workers 0.91 of the machine at 2 ms against 0.85-0.88 at 0.5 ms (the workers ran dry during
 * the pump's naps); 1 ms tasks with 1 worker 0.98-0.99 at 3 ms, 0.96-0.97 at 2 ms.
 */
export const PREFETCH_AHEAD_MS = 3;
/**
 * When even MAX_PREFETCH tasks hold less work than this (tasks under about 4 us), a worker runs
 * dry faster than a napping main thread wakes: the pump polls instead (see PrefetchDepth).
 */
export const POLL_AHEAD_MS = 0.5;
/**
 * The cancel words, written by the main thread only, before it ends the worker of a running task
 * that timed out or was aborted: STATE_CANCEL_KIND (CANCEL_*), then STATE_CANCEL (the task's id,
 * 0 before). The task's `taskContext().signal` reads them, so a cooperative task, even one busy
 * in a loop that never yields, sees `signal.aborted` and stops. First cache line: rarely written.
 */
export const STATE_CANCEL = 0;
export const STATE_CANCEL_KIND = 1;
/**
 * The worker's critical-section count and kill word (see Termination in _futex.ts): 0, then 1
 * once. Second cache line: the worker changes the count around every ring operation, and the
 * ticket lines take the main thread's writes for every task.
 */
export const STATE_CRIT = 16;
export const STATE_KILL = 17;
/** The first ticket word (third cache line). */
export const STATE_TICKETS = 32;
export const STATE_BYTES = (STATE_TICKETS + MAX_PREFETCH) * 4;
export const CANCEL_TIMEOUT = 1;
export const CANCEL_ABORT = 2;
export const CANCEL_TERMINATE = 3;

/** The reason a task's signal aborts with, for a CANCEL_* kind. */
export function cancelReason(kind: number): DOMException {
  return kind === CANCEL_TIMEOUT
    ? new DOMException("The task timed out", "TimeoutError")
    : kind === CANCEL_TERMINATE
    ? new DOMException("The pool was terminated", "AbortError")
    : new DOMException("The task was aborted", "AbortError");
}

/**
 * The pool's doorbell: BELL_SEQ is bumped (and notified) by a worker after a reply when the pump
 * sleeps. BELL_WAITING, written by the main thread before its last check and sleep (Dekker-style,
 * see _ring.ts):
 *
 *   0 -> BELL_ASLEEP   the pump sleeps until rung; a worker that sees it exchanges it for 0 and
 *                      rings, so one notify wakes one sleep
 *   0 -> BELL_NAPPING  the pump sleeps at most BELL_NAP_MS (replies are coming fast): workers do
 *                      not ring; it drains them when the nap ends, many per wake-up
 *   * -> 0             the pump is awake (set by the pump, or by the worker that rang)
 */
export const BELL_SEQ = 0;
export const BELL_WAITING = 1;
/**
 * Written by the main thread when the prefetch depth changes (see PrefetchDepth): a worker with
 * this many requests left or fewer is hungry, and rings a napping pump so that it refills the
 * worker before it runs dry (a quarter of the depth: the pump takes about 100 us to wake).
 */
export const BELL_HUNGRY_AT = 2;
export const BELL_BYTES = 12;
/** BELL_WAITING: the pump sleeps until a worker rings. */
export const BELL_ASLEEP = 1;
/** BELL_WAITING: the pump naps BELL_NAP_MS and drains then; workers do not ring. */
export const BELL_NAPPING = 2;
/**
 * How long the pump naps while replies come fast, in ms: the most a reply waits then, traded for
 * the notify syscall per reply (about 7.6 us of the worker's time) and the main thread's wake-up
 * per reply, which on a machine with as many busy workers as cores takes a core's time from them.
 */
export const BELL_NAP_MS = 0.5;

/** What a pool sends a new worker. */
export interface PoolWorkerInit {
  role: "pool";
  requests: RingHandle;
  replies: RingHandle;
  state: SharedArrayBuffer;
  bell: SharedArrayBuffer;
  module: string | undefined;
  /**
   * Start each task from a macrotask, not from the previous task's promise continuation: set
   * for workers on node:worker_threads with a heap limit, whose limit is reported (and the
   * worker ended) only when it is reached inside a macrotask (see _node_thread.ts).
   */
  macrotaskTurns: boolean;
}

/**
 * Wakes the pool's pump if it sleeps (see the Dekker note in _ring.ts), or if it naps and the
 * worker is hungry (about to run out of requests: the pump must refill it now). `hungry` is
 * asked only then: a worker calls this after every reply, and the pump is usually awake.
 */
export function ringBell(bell: Int32Array, hungry?: () => boolean): void {
  // One notify per sleep: the first worker to see the pump asleep takes the flag (-> 0) and
  // rings; the others see 0 and save the syscall (about 7.6 us here). A napping pump is rung only
  // by a worker about to run dry; the others' replies wait for the nap's end (BELL_NAP_MS).
  const waiting = Atomics.load(bell, BELL_WAITING);
  if (waiting === 0 || (waiting === BELL_NAPPING && hungry !== undefined && !hungry())) return;
  if (Atomics.compareExchange(bell, BELL_WAITING, waiting, 0) === waiting) {
    Atomics.add(bell, BELL_SEQ, 1);
    Atomics.notify(bell, BELL_SEQ);
  }
}

/** The message of a payload over MAX_PAYLOAD_BYTES. */
export function payloadTooLarge(what: string, bytes?: number, hint = ""): RangeError {
  const size = bytes === undefined ? "it is" : `it takes ${bytes} bytes,`;
  return new RangeError(
    `Cannot send ${what} as ${size} over the pool's limit of 64 MiB per task${hint}`,
  );
}
