// Copyright theta authors. MIT license.
// A pool worker's loop. It takes requests off its own request ring (while they queue, at once: no
// event-loop hop between tasks), claims each task's ticket, runs the task, and puts the reply on
// its own reply ring, then rings the pool's doorbell. Replies per worker, not one shared ring: a
// worker terminated mid-reply (timeout, abort) could otherwise die holding a shared lock. Idle, it
// still turns its event loop (see idleStep and idle.ts): what finished tasks left behind runs.
//
// Errors outside a task's promise. A timer's callback is attributed to the task that scheduled
// it (`TaskTimers`, a wrap given to idle.ts's one wrapper of the timer functions): if that task
// still runs, its promise can never settle, so it is reported as REPLY_CRASHED and the pool
// replaces the worker; if it has finished, the error is a stray (REPLY_STRAY, the pool's
// `onError`) and the next, innocent task is untouched. Unhandled rejections and other uncaught
// errors cannot be attributed: they are strays too.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and import only bundled modules.

import { Encoded, encodeOutcome, UncloneableError } from "../_codec.ts";
import { nap, Termination } from "../_futex.ts";
import { CallQueueCore } from "../_callqueue_slots.ts";
import { ENDED, NOTHING, PUT_DONE, PUT_TOO_LARGE, Ring, TIMED_OUT } from "../_ring.ts";
import { toWire } from "../_shareable.ts";
import { CurrentTask, SharedSignal, type TaskContext, taskContext } from "../_pool/task_context.ts";
import {
  BELL_HUNGRY_AT,
  CANCEL_TERMINATE,
  cancelReason,
  MAX_PREFETCH,
  MODE_EACH,
  payloadTooLarge,
  type PoolWorkerInit,
  readRequest,
  type RepliesWaitingMessage,
  REPLY_BY_MESSAGE,
  REPLY_CRASHED,
  REPLY_ERROR,
  REPLY_EXITED,
  REPLY_OK,
  REPLY_PROGRESS,
  REPLY_START_FAILED,
  REPLY_STRAY,
  replyRecord,
  REQUEST_BY_MESSAGE,
  ringBell,
  STATE_CANCEL,
  STATE_CANCEL_KIND,
  STATE_CRIT,
  STATE_KILL,
  STATE_TICKETS,
} from "../_pool/protocol.ts";
import { installExitHooks, type WorkerScope } from "./exit_hooks.ts";
import { IDLE_TURN_MS, LiveTimers, nextMacrotask, type TimerCallback, turn } from "./idle.ts";
import { Mailbox } from "../_pool/mailbox.ts";
import { compileFunction, moduleExport, runTask } from "./task_function.ts";

/** Attributes timer callbacks to the task that scheduled them (see the file comment). */
export class TaskTimers {
  /** The id of the task running now, or 0. */
  static running = 0;

  /**
   * The callback wrap for LiveTimers.install: a throwing callback reports the task that was
   * running when its timer was set.
   */
  static attribute(
    onUncaught: (owner: number, error: unknown) => void,
  ): (callback: TimerCallback) => TimerCallback {
    return (callback) => {
      const owner = TaskTimers.running;
      return function (this: unknown, ...params: unknown[]): unknown {
        try {
          return callback.apply(this, params);
        } catch (error) {
          onUncaught(owner, error);
          return undefined;
        }
      };
    };
  }
}

/** One pool worker. */
export class PoolWorker {
  readonly scope: WorkerScope;
  readonly requests: Ring;
  readonly replies: Ring;
  readonly state: Int32Array;
  readonly bell: Int32Array;
  readonly functions: Map<number, (...args: unknown[]) => unknown> = new Map();
  /** Sources seen but not compiled yet: a function's source comes once, with its first task. */
  readonly sources: Map<number, string> = new Map();
  /** Arguments that came by postMessage (REQUEST_BY_MESSAGE). */
  readonly mailbox: Mailbox = new Mailbox();
  module: Record<string, unknown> | undefined;
  /** Whether to poll for the next request before sleeping: not on one core (see loop). */
  readonly poll: boolean = (navigator.hardwareConcurrency ?? 1) > 1;
  /** Whether few requests are left (BELL_HUNGRY_AT): a napping pump must refill them now. */
  readonly hungry = (): boolean => this.requests.length <= Atomics.load(this.bell, BELL_HUNGRY_AT);
  /** Start each task from a macrotask (see PoolWorkerInit.macrotaskTurns). */
  readonly macrotaskTurns: boolean;
  /**
   * When the last task ended (performance.now()), or NaN once the worker had to wait for a
   * request: a request already waiting starts its clock there (see nextRequest).
   */
  lastEnd = NaN;

  constructor(scope: WorkerScope, init: PoolWorkerInit) {
    this.scope = scope;
    this.macrotaskTurns = init.macrotaskTurns;
    this.requests = new Ring(init.requests);
    this.replies = new Ring(init.replies);
    this.state = new Int32Array(init.state);
    Termination.install(this.state, STATE_KILL, STATE_CRIT);
    this.bell = new Int32Array(init.bell);
  }

  /** The id of the task this worker runs now (its claimed ticket), or 0. */
  running(): number {
    for (let i = STATE_TICKETS; i < STATE_TICKETS + MAX_PREFETCH; i++) {
      const value = Atomics.load(this.state, i);
      if (value < 0) return -value;
    }
    return 0;
  }

  /**
   * Puts a reply on the ring and rings the bell.
   *
   * @returns The put status (PUT_TOO_LARGE for a value over the ring's limit).
   */
  reply(kind: number, id: number, value: unknown, runMs = 0): number {
    const record = replyRecord(kind, id, value, runMs);
    const status = this.replies.put(record, undefined, "the task's result");
    // Hungry with few requests left (BELL_HUNGRY_AT): the pump refills it before it runs dry.
    if (status === PUT_DONE) ringBell(this.bell, this.hungry);
    return status;
  }

  /** Sends an error as codec bytes (its class, message, stack and cause survive). */
  replyError(kind: number, id: number, error: unknown): void {
    const outcome = encodeOutcome(false, error, "the error");
    if (this.reply(kind, id, new Encoded(outcome.bytes.slice())) === PUT_TOO_LARGE) {
      // An error too large to send (a huge message or cause) still ends its task, as a RangeError.
      const small = encodeOutcome(false, payloadTooLarge("the error"), "the error");
      this.reply(kind, id, new Encoded(small.bytes.slice()));
    }
  }

  /** Sends a task's outcome, by the ring when it can travel there, else by postMessage. */
  settle(id: number, ok: boolean, value: unknown, runMs: number): void {
    let status: number;
    try {
      // The common case, encoded in place.
      status = this.reply(ok ? REPLY_OK : REPLY_ERROR, id, value, runMs);
    } catch (error) {
      if (!(error instanceof UncloneableError)) throw error;
      status = this.settleOtherwise(id, ok, value, runMs);
    }
    if (status === PUT_TOO_LARGE) {
      const error = payloadTooLarge(`the task's ${ok ? "result" : "error"}`);
      const outcome = encodeOutcome(false, error, "the error");
      this.reply(REPLY_ERROR, id, new Encoded(outcome.bytes.slice()), runMs);
    }
  }

  /** A value the codec refused: shareables go by postMessage, the rest become errors. */
  settleOtherwise(id: number, ok: boolean, value: unknown, runMs: number): number {
    const outcome = encodeOutcome(ok, value, "the task's result");
    if (outcome.needsMessage) {
      this.scope.postMessage({ id, result: toWire(value, "the task's result") });
      return this.reply(REPLY_BY_MESSAGE, id, undefined, runMs);
    }
    const kind = outcome.ok ? REPLY_OK : REPLY_ERROR;
    return this.reply(kind, id, new Encoded(outcome.bytes.slice()), runMs);
  }

  resolve(ref: number | string, source: string | undefined): (...args: unknown[]) => unknown {
    if (typeof ref === "string") return moduleExport(this.module, ref);
    let fn = this.functions.get(ref);
    if (fn === undefined) {
      fn = compileFunction(source ?? this.sources.get(ref)!);
      this.functions.set(ref, fn);
      this.sources.delete(ref);
    }
    return fn;
  }

  /**
   * Tells the owner that replies no task waits for are in the ring (see RepliesWaitingMessage):
   * the pool's pump may be stopped, with no task in flight.
   */
  repliesWaiting(): void {
    const message: RepliesWaitingMessage = { repliesWaiting: true };
    this.scope.postMessage(message);
  }

  /** Reports an error raised outside any task (the pool's `onError`). */
  replyStray(error: unknown): void {
    this.replyError(REPLY_STRAY, 0, error);
    this.repliesWaiting();
  }

  /** Reports errors raised outside a task's own promise (see the file comment). */
  watchStrays(): void {
    LiveTimers.install(TaskTimers.attribute((owner, error) => {
      if (owner !== 0 && owner === this.running()) this.replyError(REPLY_CRASHED, owner, error);
      else this.replyStray(error);
    }));
    const scope = globalThis as unknown as EventTarget;
    scope.addEventListener("error", (event) => {
      event.preventDefault();
      this.replyStray((event as ErrorEvent).error ?? (event as ErrorEvent).message);
    });
    scope.addEventListener("unhandledrejection", (event) => {
      event.preventDefault();
      this.replyStray((event as PromiseRejectionEvent).reason);
    });
  }

  /** The abort reason of task `id` once the pool cancelled it (or ends this worker). */
  cancelled(id: number): unknown {
    // The kill word first: the pool writes KIND, then CANCEL, then KILL, so once KILL is seen a
    // CANCEL naming this task is visible too (read the other way round, a cancel landing
    // between the two loads would pass for a plain termination).
    const killed = Atomics.load(this.state, STATE_KILL) !== 0;
    if (Atomics.load(this.state, STATE_CANCEL) === id) {
      return cancelReason(Atomics.load(this.state, STATE_CANCEL_KIND));
    }
    return killed ? cancelReason(CANCEL_TERMINATE) : undefined;
  }

  /**
   * The context `taskContext()` returns to task `id` (see CurrentTask.running: made on the
   * task's first ask). Its signal too is made on first use: making one, and watching the cancel
   * word, costs microseconds.
   */
  makeContext(id: number): TaskContext {
    let shared: SharedSignal | undefined;
    const signalOf = (): SharedSignal => {
      if (shared === undefined) {
        shared = new SharedSignal(() => this.cancelled(id));
        this.watchCancel(id, shared);
      }
      return shared;
    };
    return {
      id,
      get signal(): AbortSignal {
        return signalOf().signal;
      },
      progress: (value: unknown): void => {
        if (CurrentTask.running !== id) {
          throw new TypeError("Cannot report progress as the task has finished");
        }
        if (this.reply(REPLY_PROGRESS, id, value) === PUT_TOO_LARGE) {
          throw payloadTooLarge("the progress value");
        }
      },
    };
  }

  /** Fires the signal's abort event on this event loop's next turns once the task is cancelled. */
  async watchCancel(id: number, shared: SharedSignal): Promise<void> {
    while (CurrentTask.running === id && !shared.controller.signal.aborted) {
      await nap(this.state, STATE_CANCEL, Atomics.load(this.state, STATE_CANCEL), 50);
    }
  }

  async start(module: string | undefined): Promise<void> {
    const quit = installExitHooks(this.scope, () => {
      const running = this.running();
      this.reply(REPLY_EXITED, running, undefined);
      // Idle (a timer left behind closed it), no pump may be there to read it.
      if (running === 0) this.repliesWaiting();
    });
    this.watchStrays();
    CurrentTask.install();
    CurrentTask.make = (id) => this.makeContext(id);
    // Function tasks run from source and cannot import: they reach the context here.
    (globalThis as { theta?: unknown }).theta = { taskContext };
    if (module !== undefined) {
      try {
        this.module = await import(module);
        // A `setup` export prepares per-worker state once, before the first task.
        const setup = this.module?.setup;
        if (typeof setup === "function") await setup();
      } catch (error) {
        this.replyError(REPLY_START_FAILED, 0, error);
        quit();
        return;
      }
    }
    try {
      await this.loop();
    } catch (error) {
      if (!Termination.requested()) throw error;
    }
    quit();
  }

  /** Runs tasks until the pool ends this worker. */
  async loop(): Promise<void> {
    if (this.macrotaskTurns) return await this.macrotaskLoop();
    for (;;) {
      let record = this.nextRequest();
      while (record === TIMED_OUT) {
        record = this.idleStep();
        if (record instanceof Promise) record = await record;
        else if (record === TIMED_OUT) await turn();
      }
      if (record === ENDED) return;
      await this.runRequest(record);
    }
  }

  /**
   * The loop for workers with a heap limit (see PoolWorkerInit.macrotaskTurns): each task starts
   * inside a macrotask (setImmediate: 16 us a task here, against 2.1 ms with setTimeout's
   * 1 ms clamp), so a synchronous task that reaches the limit is reported. So does one that
   * comes to an idle worker: found by a blocking wait, it starts in that wait's macrotask; by a
   * wait on the event loop (a promise continuation), in a macrotask of its own.
   */
  macrotaskLoop(): Promise<void> {
    return new Promise((resolve, reject) => {
      const run = (record: unknown): void => {
        if (record === ENDED) return resolve();
        this.runRequest(record).then(() => {
          // The turn between two tasks is not the next one's run time (see nextRequest).
          this.lastEnd = NaN;
          nextMacrotask(next);
        }, reject);
      };
      const idle = (): void => {
        try {
          const record = this.idleStep();
          if (record instanceof Promise) {
            record.then((found) => nextMacrotask(() => run(found)), reject);
          } else if (record === TIMED_OUT) nextMacrotask(idle);
          else run(record);
        } catch (error) {
          reject(error);
        }
      };
      const next = (): void => {
        try {
          const record = this.nextRequest();
          if (record === TIMED_OUT) idle();
          else run(record);
        } catch (error) {
          reject(error);
        }
      };
      next();
    });
  }

  /**
   * The next request if one is there or comes while the worker polls; TIMED_OUT if none did (the
   * worker is idle: see idleStep), ENDED once the pool ends the worker.
   *
   * Polling first, as any reader of a ring does (SPIN_POLLS, about 42 us here): a caller awaiting
   * one task at a time sends the next within it. Polling longer (0.1 ms here before) only paid
   * off as a tail: the kernel often runs the worker it wakes on the sender's core, where the poll
   * then keeps the sender off that core (p99 115-159 us against 58-66 without,
   * bench/pool_latency.ts; bursts and efficiency unchanged). Such a shared core still costs a
   * sequential caller 40-60 us a call for runs of hundreds of calls, even with the other core
   * idle: an idle core can only take a thread that waits to run, so two threads that take turns
   * stay together. Polling less (here, or in the pump) made those calls cheaper and the runs
   * longer, and the mean did not fall (bench/README.md). On one core it does not poll at all:
   * the sender cannot run meanwhile.
   *
   * A request that was already there when the last task ended is timed from that end: one clock
   * read a task instead of two while requests queue (performance.now() costs 85-150 ns here, a
   * fifth of a tiny task's worker time). Its run time then also counts the worker's handling
   * between the two (the last reply, taking this request: about a microsecond for small values).
   */
  nextRequest(): unknown {
    const record = this.requests.tryTake();
    if (record !== NOTHING) return record;
    this.lastEnd = NaN;
    // Without a poll, a take with no time left would only register the reader and undo it:
    // idleStep's take does that once, before it sleeps.
    return this.poll ? this.requests.take(0, true) : TIMED_OUT;
  }

  /**
   * One step of an idle worker's wait for a request, as any idle theta worker waits (see
   * idle.ts): while timers are live, a promise of the request from a wait on the event loop;
   * else Atomics.wait for at most IDLE_TURN_MS, then TIMED_OUT: the caller turns the event loop
   * once and steps again. Not `idleWait`: a ring is waited on through its own take, which
   * registers the reader before it sleeps.
   *
   * @returns The request, ENDED, TIMED_OUT, or a promise of the request or ENDED.
   */
  idleStep(): unknown {
    if (LiveTimers.ids.size > 0) return this.requests.takeAsync();
    return this.requests.take(IDLE_TURN_MS, false);
  }

  /** Claims, runs and settles one request (skipped if the pool took it back). */
  async runRequest(record: unknown): Promise<void> {
    const request = readRequest(record);
    const { id, ref, source, ticket } = request;
    // Keep the source even if this task was cancelled: later tasks of the function omit it.
    if (source !== undefined && typeof ref === "number") this.sources.set(ref, source);
    // Claim the task (ticket id -> -id, see MAX_PREFETCH); if the pool took it back, skip it.
    if (Atomics.compareExchange(this.state, ticket, id, -id) !== id) {
      if (request.kind === REQUEST_BY_MESSAGE) this.mailbox.discard(id);
      return;
    }
    TaskTimers.running = id;
    CurrentTask.running = id;
    const started = Number.isNaN(this.lastEnd) ? performance.now() : this.lastEnd;
    let ok = true;
    let value: unknown;
    try {
      const fn = this.resolve(ref, source);
      const input = request.kind === REQUEST_BY_MESSAGE
        ? (await this.mailbox.receive(id)) as unknown[]
        : request.args as unknown[];
      value = await runTask(fn, request.mode === MODE_EACH, input);
    } catch (error) {
      ok = false;
      value = typeof ref === "number" ? explainScopeError(error) : error;
    }
    TaskTimers.running = 0;
    CurrentTask.running = 0;
    CurrentTask.context = undefined;
    // A finished task can no longer collect the calls it made: their slots go back.
    CallQueueCore.releaseAll();
    Atomics.store(this.state, ticket, 0);
    const ended = this.lastEnd = performance.now();
    this.settle(id, ok, value, ended - started);
  }
}

/**
 * A function task that uses a name from its enclosing scope fails with a bare "x is not defined"
 * and a blob: stack: say why, keeping the original as the cause.
 */
export function explainScopeError(error: unknown): unknown {
  if (!(error instanceof ReferenceError)) return error;
  const name = /^(\S+) is not defined$/.exec(error.message)?.[1];
  if (name === undefined || name in globalThis) return error;
  const explained = new ReferenceError(
    `${name} is not defined in the worker: a function task runs from its source text, without the scope it was written in. Define ${name} inside the function, pass it as an argument, or use a module task ({ module } and pool.run("exportName", args))`,
    { cause: error },
  );
  explained.stack = `${explained.name}: ${explained.message}\n${
    error.stack?.split("\n").slice(1).join("\n") ?? ""
  }`;
  return explained;
}
