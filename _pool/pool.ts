// Copyright theta authors. MIT license.
// The Pool class: submission, admission (maxQueue), dispatch to worker handles, replies,
// cancellation, crashes, resize, close and terminate. The pieces it drives live beside it: the
// Job record (job.ts), worker handles (worker_handle.ts), the reply pump (pump.ts), inline runs
// (inline.ts), map's engine (map.ts) and the wire protocol (protocol.ts).

import { checkTimeout, holdOpen } from "../_futex.ts";
import { Encoded } from "../_codec.ts";
import { PoolClosed, QueueFull, WorkerCrashed } from "../_errors.ts";
import { fromWire } from "../_shareable.ts";
import {
  canSpawnWorkers,
  cores,
  functionSource,
  requireWorkers,
  workerSupport,
} from "../_spawn.ts";
import { Deque } from "./deque.ts";
import { SignalWatch } from "../_signal_watch.ts";
import { InlineModule, runInline } from "./inline.ts";
import type { Job, JobState } from "./job.ts";
import { mapLazily, stageError } from "./map.ts";
import { CurrentTask } from "./task_context.ts";
import {
  CANCEL_ABORT,
  CANCEL_TERMINATE,
  CANCEL_TIMEOUT,
  MODE_EACH,
  MODE_ONCE,
  readReply,
  type Reply,
  REPLY_BY_MESSAGE,
  REPLY_CRASHED,
  REPLY_ERROR,
  REPLY_EXITED,
  REPLY_OK,
  REPLY_PROGRESS,
  REPLY_START_FAILED,
  REPLY_STRAY,
} from "./protocol.ts";
import { ReplyPump } from "./pump.ts";
import { PoolTimings, type TimeSummary } from "./stats.ts";
import { PrefetchDepth } from "./prefetch.ts";
import type { Executor, Task, TaskArgs, TaskItem, TaskName, TaskResult } from "./task.ts";
import { WorkerHandle } from "./worker_handle.ts";
import { encodeArgs } from "./payload.ts";
import type { Handle, HandleEvents, SendStatus } from "./handle.ts";
import { permissionFlags, ProcessHandle, type ProcessPermissions } from "./process_handle.ts";

/** Options of `new Pool`. */
export interface PoolOptions {
  /**
   * Workers. `0` runs every task inline on this thread, one at a time (GitPython async's
   * `set_size(0)`).
   *
   * @default {navigator.hardwareConcurrency} (inline where Worker is missing)
   */
  size?: number;
  /**
   * A module whose function exports are the tasks, run by name: `pool.run("fib", [30])`. Type the
   * pool with it: `new Pool<typeof import("./tasks.ts")>({ module })`. Loading it from a file
   * needs `--allow-read`.
   *
   * @default {undefined}
   */
  module?: URL | string;
  /**
   * Most tasks not started yet, wherever they wait: in the pool's queue or handed ahead to a
   * busy worker. Beyond it `run` rejects with `QueueFull`; `0` accepts a task only when a worker
   * is free.
   *
   * @default {Infinity}
   */
  maxQueue?: number;
  /**
   * Default per-task timeout in ms, counted from `run`.
   *
   * @default {undefined} (none)
   */
  timeout?: number;
  /**
   * Ms a worker may stay idle before it is ended (it is started again when needed); never below
   * `minSize` workers.
   *
   * @default {undefined} (workers stay until `close`)
   */
  idleTimeout?: number;
  /**
   * Workers started with the pool and kept warm (never ended by `idleTimeout`, replaced when one
   * is recycled or dies), so the first burst does not wait for workers to start. At most `size`.
   *
   * @default {0} (the first task starts them all; with `idleTimeout`, as tasks need them)
   */
  minSize?: number;
  /**
   * Tasks a worker runs before it is replaced by a fresh one: the remedy for task code that
   * leaks memory or state.
   *
   * @default {Infinity}
   */
  maxTasksPerWorker?: number;
  /**
   * The pool's name, given to its workers.
   *
   * @default {"theta-pool"}
   */
  name?: string;
  /**
   * What a worker is: a thread (`"thread"`, a Web Worker) or a child `deno` process
   * (`"process"`, fandango's WorkerProcess). A process worker is really ended by a timeout,
   * an abort, `terminate()` and `close()` (SIGKILL, wherever it is), and an out-of-memory heap
   * kills only it; its arguments and results must be structured-cloneable (no shared objects,
   * no transfer), it needs `--allow-run`, and it starts in about 50-100 ms.
   *
   * @default {"thread"}
   */
  isolation?: "thread" | "process";
  /**
   * Heap limit of each worker in MiB. Past it the task rejects with `WorkerCrashed` and the pool
   * goes on (where a Web Worker out of memory would abort the whole process). In thread
   * isolation the workers then run on `node:worker_threads` with `resourceLimits`; in process
   * isolation it is a V8 flag of each process.
   *
   * @default {undefined} (V8's default)
   */
  maxMemoryMb?: number;
  /**
   * Deno permissions of each process worker (`isolation: "process"`), as `deno run` flags: `true`
   * allows all, a list allows those paths or hosts. Read access to theta's files and the task
   * module is always granted; anything else the task needs must be listed, or it fails with
   * `NotCapable` as the task's error.
   *
   * @default {{}} (only what loading the task code needs)
   */
  permissions?: ProcessPermissions;
  /**
   * Receives errors a worker raised outside any running task: a timer or a rejection left
   * behind by a task that has finished. They never reject another task.
   *
   * @default {console.error}
   */
  onError?: (error: unknown) => void;
}

/** Options of `Pool.run`. */
export interface RunOptions {
  /**
   * Cancels the task: removed if queued, its worker ended and replaced if running. The promise
   * rejects with the signal's reason.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Ms before the task is cancelled with a `TimeoutError` `DOMException`, counted from `run`.
   *
   * @default {PoolOptions.timeout}
   */
  timeout?: number;
  /**
   * Objects to transfer rather than copy: `ArrayBuffer`s, `MessagePort`s and streams found in
   * the arguments (they then travel by postMessage, with no size limit). Checked before
   * anything is sent: a bad list rejects with a `TypeError` and nothing is detached.
   *
   * @default {[]}
   */
  transfer?: Transferable[];
  /**
   * Receives the values the task reports with `taskContext().progress(value)`, in order, before
   * the task's promise settles.
   *
   * @default {undefined}
   */
  onProgress?: (value: unknown) => void;
}

/** The options of a `run` given none: one shared record, not a new one per call. */
const NO_RUN_OPTIONS: RunOptions = Object.freeze({});

/** Options of `Pool.map`. */
export interface MapOptions {
  /**
   * Items per task: each task runs the function on `chunkSize` items in turn.
   *
   * @default {1}
   */
  chunkSize?: number;
  /**
   * Whether results come in the order of their items, or as they finish.
   *
   * @default {true}
   */
  ordered?: boolean;
  /**
   * Most tasks in flight: how far `map` reads ahead of its consumer.
   *
   * @default {2 * size} (at least 1)
   */
  concurrency?: number;
  /**
   * Ends the iteration: in-flight tasks are cancelled and the source is closed.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * The stage's name in a pipeline: a failing item then ends the iteration with an `Error`
   * saying `Cannot complete pipeline stage "name": ...`, whose `cause` is the task's error.
   *
   * @default {undefined}
   */
  name?: string;
  /**
   * Called as results are read, with the items done so far and, when `items` has a known
   * length (an array, a Set, a Map), their total.
   *
   * @default {undefined}
   */
  onProgress?: (done: number, total?: number) => void;
}

/** Counters of a pool. */
export interface PoolStats {
  /** Live workers. */
  workers: number;
  /** Tasks running now. */
  running: number;
  /** Tasks not started yet: queued, or handed ahead to a busy worker. Never above `maxQueue`. */
  queued: number;
  /** Tasks that resolved. */
  completed: number;
  /** Tasks that rejected (thrown, crashed, cancelled). */
  failed: number;
  /**
   * How long tasks ran, in ms (in their worker, or inline). A task already waiting in its worker
   * when the one before it ended is timed from that end, so the worker's handling between the
   * two (the reply, taking the next request: about a microsecond for small values) counts too.
   */
  runTime: TimeSummary;
  /**
   * How long tasks waited from `run` to their start, in ms: from `run` until the main thread took
   * the reply off its worker's ring, less the run time (replies taken in one batch share one clock
   * reading).
   */
  waitTime: TimeSummary;
  /** The busy fraction of worker time since the pool was created, from 0 to 1. */
  utilization: number;
}

/**
 * A pool of workers that run tasks, with dispatch over shared memory: a task and its result each
 * cross threads through a SharedArrayBuffer ring with an Atomics wake-up, not a postMessage.
 *
 * A task that throws rejects its own promise only. A worker that dies (an uncaught error,
 * `self.close()`, `Deno.exit()`) rejects its running task with `WorkerCrashed` and is replaced.
 * A timeout or abort removes a queued task, or ends and replaces the worker of a running one.
 *
 * @example Running functions
 * ```ts
 * import { Pool } from "@theta/theta/pool";
 * import assert from "node:assert/strict";
 *
 * await using pool = new Pool({ size: 2 });
 * assert.equal(await pool.run((x: number) => x + 1, [41]), 42);
 * // Tasks travel as source text: a recursive task names itself, not a closure variable.
 * function fib(n: number): number {
 *   return n < 2 ? n : fib(n - 1) + fib(n - 2);
 * }
 * assert.deepEqual(await Promise.all([20, 21].map((n) => pool.run(fib, [n]))), [6765, 10946]);
 * ```
 *
 * @example Tasks from a module, typed
 * ```ts ignore
 * import { Pool } from "@theta/theta/pool";
 *
 * // tasks.ts: export function fib(n: number): number { ... }
 * await using pool = new Pool<typeof import("./tasks.ts")>({
 *   module: new URL("./tasks.ts", import.meta.url),
 * });
 * const result: number = await pool.run("fib", [30]);
 * ```
 */
export class Pool<M = Record<string, Task>> implements Executor, AsyncDisposable {
  readonly #module: string | undefined;
  readonly #maxQueue: number;
  readonly #timeout: number | undefined;
  readonly #idleTimeout: number | undefined;
  readonly #minSize: number;
  /** Cores this process may run on (affinity included), for the pump's polling rule. */
  readonly #cores: number = cores();
  /** `deno run` flags of process workers; undefined in thread isolation. */
  readonly #processFlags: string[] | undefined;
  /** Heap limit of thread workers (run on node:worker_threads then); undefined: none. */
  readonly #maxMemoryMb: number | undefined;
  readonly #maxTasksPerWorker: number;
  readonly #name: string;
  readonly #onError: (error: unknown) => void;
  readonly #queue: Deque<Job<Handle>> = new Deque();
  /** The signals of queued and running jobs, one listener each (see SignalWatch). */
  readonly #signals: SignalWatch<Job<Handle>> = new SignalWatch((jobs, reason) =>
    this.#cancelAll(jobs, reason)
  );
  readonly #workers: Handle[] = [];
  /** The record #drainReplies reads each reply into. */
  readonly #reply: Reply = { kind: 0, id: 0, value: undefined, runMs: 0 };
  readonly #functionIds = new Map<string, number>();
  /** Refs and sources of the function objects seen, for the next call with the same object. */
  readonly #functions = new WeakMap<Task, { ref: number; source: string }>();
  readonly #closed: PromiseWithResolvers<void> = Promise.withResolvers();
  readonly #inlineModule: InlineModule;
  readonly #pump: ReplyPump;
  readonly #events: HandleEvents;
  #size: number;
  #nextId = 1;
  /** Set when a worker could not start (its module failed): no warm workers until a task. */
  #startFailed = false;
  /** True while #drainReplies handles a batch of replies (it dispatches once, after). */
  #draining = false;
  /** True once `close` ended the workers (see `#resolveClosed`). */
  #endingAll = false;
  /** True while `#cancelAll` runs: each `#cancel` then leaves dispatching to it. */
  #cancelling = false;
  /** Jobs sent to workers and not yet finished or taken back (the pump runs while > 0). */
  #inflight = 0;
  #inlineJob: Job<Handle> | undefined;
  #inlineAbort: AbortController | undefined;
  readonly #timings: PoolTimings = new PoolTimings();
  readonly #prefetch: PrefetchDepth;
  #spawned = 0;
  #closing = false;
  #terminated = false;
  #completed = 0;
  #failed = 0;

  /**
   * Creates a pool. No worker starts until the first task, which starts them all (with
   * `idleTimeout`, only as tasks need them), unless `minSize` asks for some at once.
   *
   * @param options Size, task module, limits.
   * @throws {RangeError} If a size, limit or timeout is out of range.
   * @throws {TypeError} If `size > 0` is asked for where Worker is missing.
   */
  constructor(options: PoolOptions = {}) {
    const size = options.size ?? (canSpawnWorkers() ? cores() : 0);
    checkSize(size, "create the pool");
    if (size > 0) requireWorkers(`a pool of ${size} workers`);
    if (options.size === undefined && !canSpawnWorkers() && !warnedInline) {
      warnedInline = true;
      console.warn(
        workerSupport() === "not-deno"
          ? "theta: this runtime is not Deno; Pool tasks run inline on this thread"
          : "theta: no Worker in this runtime; Pool tasks run inline on this thread",
      );
    }
    const maxQueue = options.maxQueue ?? Infinity;
    if (!(maxQueue === Infinity || (Number.isInteger(maxQueue) && maxQueue >= 0))) {
      throw new RangeError(
        `Cannot create the pool as maxQueue must be a non-negative integer: current value is ${maxQueue}`,
      );
    }
    checkTimeout(options.timeout, "timeout");
    checkTimeout(options.idleTimeout, "idleTimeout");
    if (options.onError !== undefined && typeof options.onError !== "function") {
      throw new TypeError(
        `Cannot create the pool as onError must be a function: current value is ${typeof options
          .onError}`,
      );
    }
    this.#size = size;
    this.#module = options.module === undefined ? undefined : String(options.module);
    this.#maxQueue = maxQueue;
    this.#timeout = options.timeout;
    this.#idleTimeout = options.idleTimeout;
    const minSize = options.minSize ?? 0;
    if (!(Number.isInteger(minSize) && minSize >= 0 && minSize <= size)) {
      throw new RangeError(
        `Cannot create the pool as minSize must be an integer from 0 to size (${size}): current value is ${minSize}`,
      );
    }
    this.#minSize = minSize;
    const maxTasks = options.maxTasksPerWorker ?? Infinity;
    if (!(maxTasks === Infinity || (Number.isInteger(maxTasks) && maxTasks >= 1))) {
      throw new RangeError(
        `Cannot create the pool as maxTasksPerWorker must be a positive integer: current value is ${maxTasks}`,
      );
    }
    this.#maxTasksPerWorker = maxTasks;
    const isolation = options.isolation ?? "thread";
    if (isolation !== "thread" && isolation !== "process") {
      throw new TypeError(
        `Cannot create the pool as isolation must be "thread" or "process": current value is ${isolation}`,
      );
    }
    const maxMemoryMb = options.maxMemoryMb;
    if (maxMemoryMb !== undefined && !(Number.isInteger(maxMemoryMb) && maxMemoryMb >= 16)) {
      throw new RangeError(
        `Cannot create the pool as maxMemoryMb must be an integer of at least 16: current value is ${maxMemoryMb}`,
      );
    }
    this.#maxMemoryMb = isolation === "thread" ? maxMemoryMb : undefined;
    if (isolation === "thread" && options.permissions !== undefined) {
      throw new TypeError(
        'Cannot create the pool with permissions in thread isolation: workers share the process\'s permissions; use isolation: "process"',
      );
    }
    this.#processFlags = isolation === "process"
      ? [
        ...permissionFlags(this.#module, options.permissions),
        ...(maxMemoryMb === undefined ? [] : [`--v8-flags=--max-old-space-size=${maxMemoryMb}`]),
      ]
      : undefined;
    this.#name = options.name ?? "theta-pool";
    this.#onError = options.onError ??
      ((error) => console.error("theta: a pool worker raised an error outside any task:", error));
    this.#inlineModule = new InlineModule(this.#module);
    this.#pump = new ReplyPump({
      inflight: () => this.#inflight,
      drainReplies: () => this.#drainReplies(),
      hasReplies: () => {
        // Called in the pump's poll loop: an indexed loop, without an iterator per call.
        const workers = this.#workers;
        for (let i = 0; i < workers.length; i++) if (workers[i]!.hasReplies()) return true;
        return false;
      },
      queuedInWorkers: () => this.#inflight > this.#workers.length,
      // Poll only while the threads at work (busy workers, and this one) fit in the cores, or
      // while tasks are so short that the workers wait for this thread more than they work;
      // never on one core, where no worker runs while this thread polls.
      worthPolling: () =>
        this.#cores > 1 &&
        (Math.min(this.#inflight, this.#workers.length) + 1 <= this.#cores ||
          this.#prefetch.shortAhead),
    });
    this.#prefetch = new PrefetchDepth(this.#pump.bell);
    this.#events = {
      onReply: (worker, reply) => this.#onReply(worker, reply, performance.now()),
      onRepliesWaiting: () => this.#drainReplies(),
      onError: (worker, message) =>
        this.#crash(
          worker,
          new WorkerCrashed(`Cannot complete the task as its worker died: ${message}`),
        ),
    };
    this.#keepMinimum();
  }

  /** Workers the pool runs tasks on; 0 when tasks run inline. */
  get size(): number {
    return this.#size;
  }

  /** Counters: live workers, running and queued tasks, completed and failed ones. */
  get stats(): PoolStats {
    let running = this.#inlineJob === undefined ? 0 : 1;
    for (const worker of this.#workers) if (worker.load > 0) running++;
    const now = performance.now();
    let life = 0;
    for (const worker of this.#workers) life += now - worker.spawnedAt;
    return {
      workers: this.#workers.length,
      running,
      queued: this.#waiting(),
      completed: this.#completed,
      failed: this.#failed,
      runTime: this.#timings.runTime.summary(),
      waitTime: this.#timings.waitTime.summary(),
      utilization: this.#timings.utilization(life),
    };
  }

  /** Tasks not started: queued here, or sent ahead to a worker busy with another. */
  #waiting(): number {
    let waiting = this.#queue.length;
    const workers = this.#workers;
    for (let i = 0; i < workers.length; i++) {
      if (workers[i]!.load > 1) waiting += workers[i]!.load - 1;
    }
    return waiting;
  }

  /**
   * Runs one task and resolves with its result.
   *
   * @param task A self-contained function, or the name of an export of the pool's module.
   * @param args The task's arguments (structured-cloneable, or shareable objects).
   * @param options A signal, a timeout, objects to transfer.
   * @returns The task's result.
   * @throws {TypeError} If an argument cannot cross threads, or `transfer` is not a list of
   * transferable objects (the promise rejects; nothing runs).
   * @throws {RangeError} If the arguments or the result are over 64 MiB.
   * @throws {QueueFull} If `maxQueue` tasks are already waiting.
   * @throws {PoolClosed} If the pool was closed.
   */
  run<K extends TaskName<M>>(
    task: K,
    args?: TaskArgs<M, K>,
    options?: RunOptions,
  ): Promise<TaskResult<M, K>>;
  /**
   * Runs a self-contained function as a task and resolves with its result.
   *
   * @param task The function: its source runs in a worker, without its closure.
   * @param args Its arguments.
   * @param options A signal, a timeout, objects to transfer.
   * @returns The task's result.
   * @throws Like the named form.
   */
  run<A extends unknown[], R>(
    task: (...args: A) => R,
    args?: A,
    options?: RunOptions,
  ): Promise<Awaited<R>>;
  run(
    task: Task | string,
    args: unknown[] = [],
    options: RunOptions = NO_RUN_OPTIONS,
  ): Promise<unknown> {
    return this.#submit(task, args, MODE_ONCE, options);
  }

  /**
   * The `Executor` form of `run`: `submit(task, ...args)`.
   *
   * @param task A self-contained function or an export name.
   * @param args The task's arguments.
   * @returns The task's result.
   */
  // deno-lint-ignore no-explicit-any
  submit<R>(task: Task<any[], R> | string, ...args: unknown[]): Promise<R> {
    return this.#submit(task, args, MODE_ONCE, NO_RUN_OPTIONS) as Promise<R>;
  }

  #submit(
    task: Task | string,
    args: unknown[],
    mode: number,
    options: RunOptions,
  ): Promise<unknown> {
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    try {
      const job = this.#createJob(task, args, mode, options, resolve, reject);
      this.#admit();
      this.#startFailed = false; // a new task tries the workers again
      this.#keepMinimum();
      // With nothing queued ahead and a worker free, the job goes now, its arguments encoded
      // straight into the request (see WorkerHandle.send); any other job keeps a copy of its
      // arguments as they are at this call, checked here so that bad ones reject at once.
      const worker = this.#size > 0 && this.#queue.length === 0 && !this.#terminated
        ? this.#pickFreeWorker()
        : undefined;
      if (worker === undefined && this.#size > 0) {
        encodeArgs(job, this.#processFlags === undefined);
      }
      this.#watch(job, options);
      if (job.state === "settled") return promise;
      if (worker !== undefined) {
        if (this.#send(job, worker)) return promise;
        // Its ring was full after all: the job waits, with its copy of the arguments made now.
        // It is watched from here on, so a failure settles it (its timer and listener go too).
        try {
          encodeArgs(job, this.#processFlags === undefined);
        } catch (error) {
          this.#settle(job, false, error);
          return promise;
        }
      }
      this.#queue.push(job);
      this.#dispatch();
    } catch (error) {
      reject(error);
    }
    return promise;
  }

  #createJob(
    task: Task | string,
    args: unknown[],
    mode: number,
    options: RunOptions,
    resolve: (value: unknown) => void,
    reject: (reason: unknown) => void,
  ): Job<Handle> {
    if (this.#closing || this.#terminated) {
      throw new PoolClosed("Cannot run the task as the pool is closed");
    }
    if (!Array.isArray(args)) {
      throw new TypeError(`Cannot run the task as args must be an array: current value is ${args}`);
    }
    let ref: number | string;
    let source: string | undefined;
    if (typeof task === "function") {
      // The same function object again (the common case, a loop or a map): its ref and source
      // without reading and checking its source text on every call.
      const known = this.#functions.get(task);
      if (known !== undefined) {
        ({ ref, source } = known);
      } else {
        // A new function object with known source text is usually a closure made per call
        // (`pool.run((x) => x + 1, [i])`): it is not remembered, since a WeakMap entry per call
        // would only feed the garbage collector. New source text is checked and remembered.
        source = Function.prototype.toString.call(task);
        const id = this.#functionIds.get(source);
        if (id !== undefined) {
          ref = id;
        } else {
          source = functionSource(task, "a task");
          ref = this.#functionIds.size + 1;
          this.#functionIds.set(source, ref);
          this.#functions.set(task, { ref, source });
        }
      }
    } else if (typeof task === "string") {
      ref = task;
    } else {
      throw new TypeError(
        `Cannot run the task as it must be a function or an export name: current value is ${typeof task}`,
      );
    }
    const job: Job<Handle> = {
      id: this.#nextId++,
      ref,
      source,
      fn: typeof task === "function" ? task : undefined,
      args,
      mode,
      transfer: checkTransfer(options.transfer),
      resolve,
      reject,
      onProgress: options.onProgress,
      state: "queued",
      payload: undefined,
      worker: undefined,
      ticket: -1,
      cleanup: undefined,
      submittedAt: performance.now(),
    };
    return job;
  }

  /**
   * Refuses a task beyond `maxQueue`: it would wait (no free worker after the queued tasks take
   * theirs) and `maxQueue` tasks already wait.
   *
   * @throws {QueueFull} Then.
   */
  #admit(): void {
    if (this.#maxQueue === Infinity) return;
    let free: number;
    if (this.#size === 0) {
      free = this.#inlineJob === undefined ? 1 : 0;
    } else {
      let busy = 0;
      for (const worker of this.#workers) if (worker.load > 0) busy++;
      free = Math.max(0, this.#size - busy);
    }
    if (this.#queue.length < free) return; // it starts at once
    if (this.#waiting() + 1 > this.#maxQueue) {
      throw new QueueFull(
        `Cannot queue the task as ${this.#maxQueue} tasks are already waiting (maxQueue)`,
      );
    }
  }

  /** Arms the job's timeout and abort signal. */
  #watch(job: Job<Handle>, options: RunOptions): void {
    const timeout = options.timeout ?? this.#timeout;
    checkTimeout(timeout, "timeout");
    const signal = options.signal;
    if (signal?.aborted) {
      this.#settle(job, false, signal.reason);
      return;
    }
    // Most tasks have neither: no closures for them (a burst keeps thousands of jobs alive), nor
    // the context their variables would live in, made on entry to the function that has them.
    if (timeout !== undefined || signal !== undefined) this.#arm(job, timeout, signal);
  }

  /** Sets `job`'s timer and watches its signal; `job.cleanup` undoes both. */
  #arm(job: Job<Handle>, timeout: number | undefined, signal: AbortSignal | undefined): void {
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (timeout !== undefined) {
      timer = setTimeout(() => this.#cancel(job, timeoutError(timeout), CANCEL_TIMEOUT), timeout);
    }
    if (signal !== undefined) this.#signals.watch(signal, job);
    job.cleanup = () => {
      if (timer !== undefined) clearTimeout(timer);
      if (signal !== undefined) this.#signals.unwatch(signal, job);
    };
  }

  #settle(job: Job<Handle>, ok: boolean, value: unknown): void {
    if (job.state === "settled") return;
    job.state = "settled";
    job.cleanup?.();
    job.cleanup = undefined;
    if (ok) {
      this.#completed++;
      job.resolve(value);
    } else {
      this.#failed++;
      job.reject(value);
    }
  }

  /**
   * Starts workers up to `minSize` (and `size`): warm ones, before tasks need them. Once the pool
   * has had a task, without `idleTimeout` (workers then stay until `close`), it keeps all `size`
   * warm: a caller that runs one task at a time never needs a second worker, and the burst that
   * follows would otherwise wait for every other worker to start inside it.
   */
  #keepMinimum(): void {
    if (this.#closing || this.#startFailed) return;
    const minimum = this.#idleTimeout === undefined && this.#nextId > 1
      ? this.#size
      : Math.min(this.#minSize, this.#size);
    while (this.#workers.length < minimum) this.#spawn();
  }

  /** Sends queued jobs to workers, spawning workers up to `size`. */
  #dispatch(): void {
    if (this.#terminated) return;
    this.#keepMinimum();
    if (this.#size === 0) {
      this.#runInline();
    } else {
      while (this.#queue.length > 0) {
        const worker = this.#pickWorker();
        if (worker === undefined) break;
        if (this.#sendBatch(worker) > 0) continue;
        const job = this.#queue.shift()!;
        if (!this.#send(job, worker)) {
          this.#queue.unshift([job]);
          break;
        }
      }
    }
    this.#checkClosed();
  }

  /**
   * Sends the jobs at the front of the queue whose arguments are encoded to `worker`, as many as
   * its prefetch depth allows, in one batch.
   *
   * @returns How many were sent: 0 if none could go this way (then `#send` tries the first).
   */
  #sendBatch(worker: Handle): number {
    if (worker.sendMany === undefined) return 0;
    // Within its depth (tickets: depth <= MAX_PREFETCH) and what it may run before recycling.
    const room = Math.min(
      this.#prefetch.depth - worker.load,
      this.#maxTasksPerWorker - worker.finished - worker.load,
    );
    if (room < 2) return 0;
    const batch: Job<Handle>[] = [];
    while (batch.length < room && this.#queue.peek()?.payload instanceof Encoded) {
      batch.push(this.#queue.shift()!);
    }
    let sent = 0;
    try {
      sent = worker.sendMany(batch);
    } finally {
      this.#queue.unshift(batch.slice(sent));
    }
    if (sent > 0) {
      this.#inflight += sent;
      this.#pump.start();
    }
    return sent;
  }

  /**
   * Sends `job` to `worker`.
   *
   * @returns False if the worker's ring had no room (the job is not sent); true otherwise,
   * including when the job failed to send and was rejected.
   */
  #send(job: Job<Handle>, worker: Handle): boolean {
    let status: SendStatus;
    try {
      status = worker.send(job);
    } catch (error) {
      this.#settle(job, false, error);
      return true;
    }
    if (status === "full") return false;
    this.#inflight++;
    this.#pump.start();
    return true;
  }

  /** An idle worker, or a new one if the pool may grow: where a job starts at once. */
  #pickFreeWorker(): Handle | undefined {
    const worker = this.#pickWorker();
    return worker !== undefined && worker.load === 0 ? worker : undefined;
  }

  /**
   * An idle worker, else a new one, else the least busy one with a free ticket and fewer tasks
   * than the prefetch depth.
   */
  #pickWorker(): Handle | undefined {
    let best: Handle | undefined;
    // Indexed: called once or more per task, and an iterator per call feeds the scavenger.
    const workers = this.#workers;
    for (let i = 0; i < workers.length; i++) {
      const worker = workers[i]!;
      // A worker due for recycling takes no more than its remaining tasks.
      if (worker.finished + worker.load >= this.#maxTasksPerWorker) continue;
      if (worker.load === 0) return worker;
      if (
        worker.hasTicket && worker.load < this.#prefetch.depth &&
        (best === undefined || worker.load < best.load)
      ) best = worker;
    }
    if (this.#workers.length < this.#size) return this.#spawn();
    return best;
  }

  #spawn(): Handle {
    const name = `${this.#name}-${this.#spawned++}`;
    const worker = this.#processFlags === undefined
      ? new WorkerHandle(this.#pump.bell, this.#module, name, this.#events, this.#maxMemoryMb)
      : new ProcessHandle(this.#module, this.#processFlags, this.#events);
    this.#workers.push(worker);
    return worker;
  }

  /** Takes `job` off its worker (finished, or running in a worker being retired). */
  #detach(job: Job<Handle>): void {
    job.worker?.detach(job);
    // The pump sleeps while tasks are in flight, holding a timer; with none left it must wake
    // to end, or the timer would keep the process alive (a result that came by message).
    if (--this.#inflight === 0) this.#pump.wakeIfAsleep();
  }

  /** Handles every reply waiting in the workers' rings; true if there was any. */
  #drainReplies(): boolean {
    let any = false;
    // Jobs are sent once every reply is handled, not after each: a worker then gets its next
    // requests in one batch (see #finish).
    this.#draining = true;
    try {
      // By index, from the last worker to the first: a reply may retire its worker (a crash),
      // taking it out of the list, and the workers not drained yet (those before it) keep
      // their places.
      const workers = this.#workers;
      for (let i = workers.length - 1; i >= 0; i--) {
        const worker = workers[i];
        if (worker === undefined) continue;
        const records = worker.takeReplies();
        if (records.length === 0) continue;
        any = true;
        // Each reply of the batch was in the ring when the batch was taken: one clock read
        // stamps them all, however long their handling takes (onProgress and onError run in
        // it), rather than one per reply (performance.now() costs 85-150 ns here, a tenth of
        // a tiny task's main-thread time).
        const now = performance.now();
        for (let r = 0; r < records.length; r++) {
          this.#onReply(worker, readReply(records[r], this.#reply), now);
        }
      }
    } finally {
      this.#draining = false;
    }
    if (any) this.#dispatch();
    return any;
  }

  /**
   * Takes a reply's fields at once: `reply` may be the scratch record of #drainReplies.
   *
   * @param now When the reply was taken (performance.now()).
   */
  #onReply(worker: Handle, reply: Reply, now: number): void {
    if (worker.dead) return;
    const { kind, id, value, runMs } = reply;
    switch (kind) {
      case REPLY_OK:
      case REPLY_ERROR: {
        const job = worker.jobOf(id);
        if (job !== undefined) this.#finish(worker, job, kind === REPLY_OK, value, runMs, now);
        return;
      }
      case REPLY_BY_MESSAGE:
        this.#finishByMessage(worker, id, runMs);
        return;
      case REPLY_EXITED:
        worker.gone = true;
        this.#crash(
          worker,
          new WorkerCrashed(
            "Cannot complete the task as it closed its worker (self.close() or Deno.exit())",
          ),
        );
        return;
      case REPLY_CRASHED:
        this.#crash(
          worker,
          new WorkerCrashed(
            `Cannot complete the task as it raised an uncaught error: ${describeError(value)}`,
            { cause: value },
          ),
        );
        return;
      case REPLY_START_FAILED:
        worker.gone = true;
        this.#crash(
          worker,
          new WorkerCrashed(`Cannot start a pool worker: ${describeError(value)}`, {
            cause: value,
          }),
          true,
        );
        return;
      case REPLY_PROGRESS: {
        const job = worker.jobOf(id);
        if (job !== undefined) this.#progress(job, value);
        return;
      }
      case REPLY_STRAY:
        try {
          this.#onError(value);
        } catch (error) {
          console.error("theta: the pool's onError threw:", error);
        }
        return;
    }
  }

  /**
   * A result that follows by postMessage (it holds shareables): finishes the job when it comes,
   * if the job is still this worker's. Apart from #onReply, whose every call would otherwise make
   * the context this closure's variables live in.
   */
  #finishByMessage(worker: Handle, id: number, runMs: number): void {
    const job = worker.jobOf(id);
    if (job === undefined) return;
    worker.mailbox.receive(id).then((result) => {
      if (!worker.dead && worker.jobOf(id) === job) {
        this.#finish(worker, job, true, fromWire(result), runMs, performance.now());
      }
    });
  }

  /**
   * A worker's job is done: settle it, then feed, balance or retire the worker.
   *
   * @param now When its reply was taken (performance.now()), for its wait time.
   */
  #finish(
    worker: Handle,
    job: Job<Handle>,
    ok: boolean,
    value: unknown,
    runMs: number,
    now: number,
  ): void {
    this.#timings.record(now - job.submittedAt - runMs, runMs);
    this.#prefetch.record(runMs);
    this.#detach(job);
    worker.finished++;
    this.#settle(job, ok, value);
    if (worker.load === 0) {
      if (this.#workers.length > this.#size || worker.finished >= this.#maxTasksPerWorker) {
        this.#retire(worker); // shrinking, or recycled (a fresh one starts as needed)
      } else if (this.#queue.length === 0) {
        this.#stealFor(worker);
        if (worker.load === 0 && this.#idleTimeout !== undefined) {
          worker.idleTimer = setTimeout(() => {
            if (worker.load === 0 && this.#workers.length > this.#minSize) this.#retire(worker);
          }, this.#idleTimeout);
        }
      }
    }
    if (!this.#draining) this.#dispatch();
  }

  /** An idle worker takes a waiting job from the busiest other worker. */
  #stealFor(idle: Handle): void {
    let busiest: Handle | undefined;
    const workers = this.#workers;
    for (let i = 0; i < workers.length; i++) {
      const worker = workers[i]!;
      if (worker !== idle && worker.load >= 2 && (busiest?.load ?? 1) < worker.load) {
        busiest = worker;
      }
    }
    const job = busiest?.jobs.at(-1);
    if (job === undefined || !busiest!.steal(job)) return;
    this.#inflight--;
    this.#send(job, idle) || this.#queue.unshift([job]);
  }

  /** Ends a worker and forgets it; jobs still attached are woken (see WorkerHandle.retire). */
  #retire(worker: Handle): Promise<void> {
    if (!worker.dead) this.#timings.retired(performance.now() - worker.spawnedAt);
    const ended = worker.retire();
    const index = this.#workers.indexOf(worker);
    if (index >= 0) this.#workers.splice(index, 1);
    return ended;
  }

  /**
   * Before a worker is ended: the jobs it has not started go back to the front of the queue, in
   * order.
   *
   * @returns The job it runs, if any (still attached to it).
   */
  #evacuate(worker: Handle): Job<Handle> | undefined {
    const { unstarted, running } = worker.evacuate();
    this.#inflight -= unstarted.length;
    this.#queue.unshift(unstarted);
    return running;
  }

  /**
   * A worker died. Replies it sent before dying are handled first; then its running job, if
   * any, rejects with `error`, jobs it had not started go to other workers, and it is replaced
   * on demand.
   */
  #crash(worker: Handle, error: Error, startFailed = false): void {
    if (worker.dead) return;
    this.#drainReplies();
    if (worker.dead) return;
    const running = this.#evacuate(worker);
    this.#retire(worker);
    if (running !== undefined) {
      this.#detach(running);
      this.#settle(running, false, error);
    }
    if (startFailed) {
      // Waiting tasks would only start more failing workers: they reject too, and no warm
      // worker is started until a new task asks for one.
      this.#startFailed = true;
      for (const waiting of this.#queue.drain()) this.#settle(waiting, false, error);
      // Idle workers that never ran a task load the same module: most likely they failed too,
      // and with no task in flight their reply would never be read.
      for (const other of [...this.#workers]) {
        if (other.load === 0 && other.finished === 0) this.#retire(other);
      }
    }
    this.#pump.wake();
    this.#dispatch();
  }

  /** Timeout or abort: remove the job if it has not started, end its worker if it runs. */
  #cancel(job: Job<Handle>, reason: unknown, kind: number): void {
    if (job.state === "settled") return;
    this.#drainReplies(); // its result may be waiting, and settle it
    if ((job.state as JobState) === "settled") return;
    const worker = job.worker;
    if (job.state === "queued") {
      this.#queue.remove(job);
    } else if (job === this.#inlineJob) {
      this.#inlineAbort?.abort(reason); // it runs on this thread: it can only cooperate
    } else if (worker !== undefined) {
      if (worker.steal(job)) {
        if (--this.#inflight === 0) this.#pump.wakeIfAsleep();
      } else {
        // Running: its signal aborts (a cooperative task stops), its worker is ended (waking
        // the waits it may block in) and replaced; its other jobs move first.
        worker.cancel(job.id, kind);
        this.#evacuate(worker);
        this.#retire(worker);
        this.#detach(job);
        this.#pump.wake();
      }
    }
    this.#settle(job, false, reason);
    if (!this.#cancelling) this.#dispatch();
  }

  /**
   * Cancels the jobs of an aborted signal, then dispatches once: cancelled one by one, each
   * would send the next queued job (likely under the same signal) to a worker first.
   */
  #cancelAll(jobs: ReadonlySet<Job<Handle>>, reason: unknown): void {
    this.#cancelling = true;
    try {
      for (const job of jobs) this.#cancel(job, reason, CANCEL_ABORT);
    } finally {
      this.#cancelling = false;
    }
    this.#dispatch();
  }

  /** Size 0: runs queued jobs here, one at a time. */
  async #runInline(): Promise<void> {
    if (this.#inlineJob !== undefined) return;
    CurrentTask.install();
    while (this.#queue.length > 0 && this.#size === 0 && !this.#terminated) {
      const job = this.#queue.shift()!;
      job.state = "running";
      this.#inlineJob = job;
      const abort = this.#inlineAbort = new AbortController();
      CurrentTask.context = {
        id: job.id,
        signal: abort.signal,
        progress: (value) => this.#progress(job, value),
      };
      const started = performance.now();
      let ok = true;
      let value: unknown;
      try {
        value = await runInline(job, this.#inlineModule);
      } catch (error) {
        ok = false;
        value = error;
      }
      const runMs = performance.now() - started;
      this.#timings.record(started - job.submittedAt, runMs);
      try {
        this.#settle(job, ok, value);
      } finally {
        CurrentTask.context = undefined;
        this.#inlineAbort = undefined;
        this.#inlineJob = undefined;
      }
    }
    if (this.#size > 0) this.#dispatch(); // resized while the last inline job ran
    this.#checkClosed();
  }

  /** Hands a task's progress value to its caller's `onProgress`. */
  #progress(job: Job<Handle>, value: unknown): void {
    if (job.state === "settled" || job.onProgress === undefined) return;
    try {
      job.onProgress(value);
    } catch (error) {
      console.error("theta: a task's onProgress callback threw:", error);
    }
  }

  /**
   * Changes the number of workers, under load too. Growing starts workers as tasks need them;
   * shrinking ends idle workers now and busy ones after their task. `0` switches to inline runs.
   *
   * @param size The new size.
   * @throws {RangeError} If `size` is out of range.
   * @throws {TypeError} If `size > 0` where Worker is missing.
   */
  resize(size: number): void {
    checkSize(size, "resize the pool");
    if (size > 0) requireWorkers(`a pool of ${size} workers`);
    this.#size = size;
    for (const worker of [...this.#workers]) {
      if (this.#workers.length <= size) break;
      if (worker.load === 0) this.#retire(worker);
    }
    this.#dispatch();
  }

  /**
   * Runs an export of the pool's module over `items` lazily (see the function form).
   *
   * @param task The export's name.
   * @param items The items, each passed as the export's first argument.
   * @param options Chunk size, order, read-ahead, signal, stage name, progress.
   * @returns An async iterator of the results.
   * @throws {RangeError} If `chunkSize` or `concurrency` is not a positive integer.
   * @throws {TypeError} If `items` is neither iterable nor async iterable.
   */
  map<K extends TaskName<M>>(
    task: K,
    items: Iterable<TaskItem<M, K>> | AsyncIterable<TaskItem<M, K>>,
    options?: MapOptions,
  ): AsyncIterableIterator<TaskResult<M, K>>;
  /**
   * Runs `task` over `items` lazily: tasks start only as the result iterator is read, at most
   * `concurrency` ahead of it. `items` may be any iterable or async iterable, including another
   * `map` or a channel reader, so maps chain into pipelines.
   *
   * @param task A self-contained function, called with one item.
   * @param items The items.
   * @param options Chunk size, order, read-ahead, signal, stage name, progress.
   * @returns An async iterator of the results.
   * @throws {RangeError} If `chunkSize` or `concurrency` is not a positive integer.
   * @throws {TypeError} If `items` is neither iterable nor async iterable.
   *
   * @example A two-stage lazy pipeline
   * ```ts
   * import { Pool } from "@theta/theta/pool";
   * import assert from "node:assert/strict";
   *
   * await using pool = new Pool({ size: 2 });
   * const squares = pool.map((x: number) => x * x, [1, 2, 3, 4], { chunkSize: 2 });
   * const labels = pool.map((x: number) => `#${x}`, squares);
   * assert.deepEqual(await Array.fromAsync(labels), ["#1", "#4", "#9", "#16"]);
   * ```
   */
  map<T, R>(
    task: (item: T) => R,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): AsyncIterableIterator<Awaited<R>>;
  map(
    task: Task | string,
    items: Iterable<unknown> | AsyncIterable<unknown>,
    options: MapOptions = {},
  ): AsyncIterableIterator<unknown> {
    const chunkSize = options.chunkSize ?? 1;
    const concurrency = options.concurrency ?? Math.max(1, 2 * this.#size);
    for (const [name, value] of [["chunkSize", chunkSize], ["concurrency", concurrency]] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(
          `Cannot map as ${name} must be a positive integer: current value is ${value}`,
        );
      }
    }
    if (!isIterable(items)) {
      const value = items === null
        ? "null"
        : typeof items === "object"
        ? "an object"
        : String(items);
      throw new TypeError(
        `Cannot map as items must be an iterable or an async iterable: current value is ${value}`,
      );
    }
    const stage = options.name;
    const onProgress = options.onProgress;
    const total = knownLength(items);
    return mapLazily(
      (chunk, signal) => {
        const results = this.#submit(task, [chunk], MODE_EACH, { signal });
        return (stage === undefined ? results : results.catch((error) => {
          throw stageError(stage, error);
        })) as Promise<unknown[]>;
      },
      items,
      {
        chunkSize,
        concurrency,
        ordered: options.ordered ?? true,
        signal: options.signal,
        onDone: onProgress === undefined ? undefined : (done) => onProgress(done, total),
      },
    );
  }

  #checkClosed(): void {
    if (
      this.#closing && this.#queue.length === 0 && this.#inflight === 0 &&
      this.#inlineJob === undefined
    ) {
      this.#resolveClosed([...this.#workers].map((worker) => this.#retire(worker)));
    }
  }

  /**
   * Resolves `close` once the workers it ended are ended (`endings`): a program that exits right
   * after it must not exit under workers still being ended (their end comes from timers, see
   * endWorker), which Deno 2.9.6 sometimes answers with a crash at exit. They are idle by then
   * and answer within milliseconds; a worker retired earlier (a runaway task timed out) is not
   * waited for: its end may take CRITICAL_WAIT_MS, and terminating does not stop its loop.
   */
  #resolveClosed(endings: Promise<void>[]): void {
    // Once: a later check (a second close, a dispatch meanwhile) finds no worker left, and
    // must not resolve before the workers the first one ended are ended.
    if (this.#endingAll) return;
    this.#endingAll = true;
    if (endings.length === 0) {
      this.#closed.resolve();
      return;
    }
    // endWorker's timers are unref'd: this one keeps the process alive for whoever awaits.
    const keepAlive = holdOpen();
    void Promise.all(endings).then(() => {
      clearInterval(keepAlive);
      this.#closed.resolve();
    });
  }

  /**
   * Finishes queued and running tasks, then ends the workers. Later `run`s reject with
   * `PoolClosed`.
   *
   * @returns A promise that resolves once every worker has ended (terminated, not only asked
   * to end: a program may exit right after it).
   */
  close(): Promise<void> {
    this.#closing = true;
    this.#checkClosed();
    return this.#closed.promise;
  }

  /**
   * Rejects every queued and running task with `PoolClosed` and ends the workers at once.
   *
   * @returns A promise that resolves at once (the tasks' rejections are not left unhandled
   * while workers end): a running task's worker is terminated after a 100 ms grace. A program
   * about to exit should `await close()` instead, which resolves once its workers are ended.
   */
  terminate(): Promise<void> {
    this.#closing = true;
    this.#terminated = true;
    const error = new PoolClosed("Cannot complete the task as the pool was terminated");
    for (const job of this.#queue.drain()) this.#settle(job, false, error);
    if (this.#inlineJob !== undefined) this.#settle(this.#inlineJob, false, error);
    this.#inlineAbort?.abort(error);
    for (const worker of [...this.#workers]) {
      const jobs = worker.jobs.toArray();
      if (jobs[0] !== undefined) worker.cancel(jobs[0].id, CANCEL_TERMINATE);
      this.#retire(worker); // wakes the waits its jobs block in
      for (const job of jobs) {
        this.#detach(job);
        this.#settle(job, false, error);
      }
    }
    this.#pump.wake();
    // At once, not once the workers are ended (as `close` does): the tasks it rejected may get
    // their handlers only after this resolves, and a later resolve would leave their rejections
    // unhandled meanwhile.
    this.#closed.resolve();
    return this.#closed.promise;
  }

  /** Closes the pool (finishing its tasks), for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Whether `map` can read `items`: iterable (strings too) or async iterable. */
function isIterable(items: unknown): items is Iterable<unknown> | AsyncIterable<unknown> {
  if (items === null || items === undefined) return false;
  const value = items as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown };
  return typeof value[Symbol.asyncIterator] === "function" ||
    typeof value[Symbol.iterator] === "function";
}

/** The length of `items` if it is known without reading them. */
function knownLength(items: unknown): number | undefined {
  if (Array.isArray(items)) return items.length;
  if (items instanceof Set || items instanceof Map) return items.size;
  return undefined;
}

/** An error's message, or a thrown value as text, for a wrapping error's message. */
function describeError(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}

let warnedInline = false;

function checkSize(size: number, what: string): void {
  if (!Number.isInteger(size) || size < 0 || size > 1024) {
    throw new RangeError(
      `Cannot ${what} as size must be an integer from 0 to 1024: current value is ${size}`,
    );
  }
}

function timeoutError(timeout: number): DOMException {
  return new DOMException(`The task did not finish within ${timeout} ms`, "TimeoutError");
}

/**
 * Checks a `transfer` list before anything is sent, so that a bad one detaches nothing.
 *
 * @throws {TypeError} If it is not an array of distinct transferable objects.
 */
function checkTransfer(transfer: unknown): Transferable[] | undefined {
  if (transfer === undefined) return undefined;
  if (!Array.isArray(transfer)) {
    throw new TypeError(
      `Cannot run the task as transfer must be an array of transferable objects: current value is ${typeof transfer}`,
    );
  }
  const seen = new Set<unknown>();
  transfer.forEach((item: unknown, i) => {
    if (!isTransferable(item)) {
      throw new TypeError(
        `Cannot run the task as transfer[${i}] is not transferable (an ArrayBuffer not yet detached, a MessagePort or a stream): current value is ${
          item === null ? "null" : typeof item === "object" ? item.constructor?.name : typeof item
        }`,
      );
    }
    if (seen.has(item)) {
      throw new TypeError(`Cannot run the task as transfer[${i}] is listed twice`);
    }
    seen.add(item);
  });
  return transfer as Transferable[];
}

function isTransferable(item: unknown): boolean {
  if (item instanceof ArrayBuffer) return !(item as { detached?: boolean }).detached;
  const scope = globalThis as Record<string, unknown>;
  for (const name of ["MessagePort", "ReadableStream", "WritableStream", "TransformStream"]) {
    const type = scope[name];
    if (typeof type === "function" && item instanceof (type as new () => unknown)) return true;
  }
  return false;
}
