// Copyright theta authors. MIT license.
/**
 * Executors: `Pool`, a worker pool whose dispatch runs over shared memory (the GitPython async
 * pool, fandango's workers and mt.base's background jobs), `LocalExecutor` for closures on this
 * event loop, and `parallelise` (mt.base).
 *
 * A task is a self-contained function (its source runs in the worker: no closures; pass data as
 * arguments) or the name of an export of the pool's `module`, the form for typed, testable task
 * code. Shareable objects (`EvictingQueue`, `Event`, `Lock`, `Semaphore`, channel ends, `CallQueue`)
 * passed as arguments arrive as the same objects.
 *
 * @module
 */

import { encode, Encoded, UncloneableError } from "./_codec.ts";
import { BackgroundError, PoolClosed, QueueFull, WorkerCrashed } from "./_errors.ts";
import { checkTimeout, MacrotaskYielder, pollFor, waitAsync, YIELD_POLL_MS } from "./_futex.ts";
import { Ring } from "./_ring.ts";
import {
  BELL_BYTES,
  BELL_SEQ,
  BELL_WAITING,
  MODE_EACH,
  MODE_ONCE,
  type PoolWorkerInit,
  PREFETCH,
  REPLY_BY_MESSAGE,
  REPLY_ERROR,
  REPLY_EXITED,
  REPLY_OK,
  REPLY_START_FAILED,
  REQUEST_BY_MESSAGE,
  REQUEST_CALL,
  STATE_BYTES,
  STATE_KILL,
} from "./_runtime.ts";
import { fromWire, toWire, wakeWaiters } from "./_shareable.ts";
import { canSpawnWorkers, cores, functionSource, spawnWorker } from "./_worker.ts";

export { BackgroundError, PoolClosed, QueueFull, WorkerCrashed } from "./_errors.ts";

/** A task: any function of its arguments, sync or async. */
// deno-lint-ignore no-explicit-any
export type Task<A extends any[] = any[], R = unknown> = (...args: A) => R | Promise<R>;

/** Anything that runs tasks and hands back their results: `Pool`, `LocalExecutor`, `KvPool`. */
export interface Executor {
  /**
   * Runs `task` with `args`.
   *
   * @param task A function, or a task name the executor knows.
   * @param args The task's arguments.
   * @returns The task's result.
   */
  // deno-lint-ignore no-explicit-any
  submit<R>(task: Task<any[], R> | string, ...args: unknown[]): Promise<R>;
}

/** The names of `M`'s function exports. */
export type TaskName<M> =
  & {
    [K in keyof M]: M[K] extends Task ? K : never;
  }[keyof M]
  & string;

/** The arguments of `M`'s export `K`. */
export type TaskArgs<M, K extends keyof M> = M[K] extends Task<infer A> ? A : never;

/** The awaited result of `M`'s export `K`. */
export type TaskResult<M, K extends keyof M> = M[K] extends Task<never, infer R> ? Awaited<R>
  : never;

/** Options of `new LocalExecutor`. */
export interface LocalExecutorOptions {
  /**
   * Most tasks running at once; the rest wait their turn, in order.
   *
   * @default {Infinity}
   */
  concurrency?: number;
}

/**
 * Runs closures on this event loop, at most `concurrency` at a time: the default executor of
 * `Store`, and a stand-in for a `Pool` where tasks must share memory with their caller.
 *
 * @example Limiting concurrency
 * ```ts
 * import { LocalExecutor } from "@theta/theta/pool";
 * import assert from "node:assert/strict";
 *
 * const executor = new LocalExecutor({ concurrency: 1 });
 * const order: string[] = [];
 * const slow = async (name: string) => {
 *   order.push(`start ${name}`);
 *   await new Promise((resolve) => setTimeout(resolve, 5));
 *   order.push(`end ${name}`);
 *   return name;
 * };
 * assert.deepEqual(
 *   await Promise.all([executor.submit(slow, "a"), executor.submit(slow, "b")]),
 *   ["a", "b"],
 * );
 * assert.deepEqual(order, ["start a", "end a", "start b", "end b"]);
 * ```
 */
export class LocalExecutor implements Executor {
  readonly #concurrency: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  /**
   * Creates an executor.
   *
   * @param options The concurrency limit.
   * @throws {RangeError} If `concurrency` is not a positive integer or Infinity.
   */
  constructor(options: LocalExecutorOptions = {}) {
    const concurrency = options.concurrency ?? Infinity;
    if (!(concurrency === Infinity || (Number.isInteger(concurrency) && concurrency >= 1))) {
      throw new RangeError(
        `Cannot create the executor as concurrency must be a positive integer: current value is ${concurrency}`,
      );
    }
    this.#concurrency = concurrency;
  }

  /**
   * Runs `task(...args)` on this event loop once a slot is free.
   *
   * @param task The function to run.
   * @param args Its arguments.
   * @returns Its result.
   * @throws {TypeError} If `task` is a name: a LocalExecutor has no module to look it up in.
   */
  // deno-lint-ignore no-explicit-any
  async submit<R>(task: Task<any[], R> | string, ...args: unknown[]): Promise<R> {
    if (typeof task !== "function") {
      throw new TypeError(
        `Cannot run task "${String(task)}" as a LocalExecutor runs functions only`,
      );
    }
    if (this.#running >= this.#concurrency) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#running++;
    try {
      return await task(...args);
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }
}

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
   * Most tasks waiting for a worker; beyond it `run` rejects with `QueueFull`.
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
   * Ms a worker may stay idle before it is ended (it is started again when needed).
   *
   * @default {undefined} (workers stay until `close`)
   */
  idleTimeout?: number;
  /**
   * The pool's name, given to its workers.
   *
   * @default {"theta-pool"}
   */
  name?: string;
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
   * Objects to transfer rather than copy (the arguments then travel by postMessage).
   *
   * @default {[]}
   */
  transfer?: Transferable[];
}

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
}

/** Counters of a pool. */
export interface PoolStats {
  /** Live workers. */
  workers: number;
  /** Tasks running now. */
  running: number;
  /** Tasks waiting for a worker. */
  queued: number;
  /** Tasks that resolved. */
  completed: number;
  /** Tasks that rejected (thrown, crashed, cancelled). */
  failed: number;
}

/** One task on its way through the pool. */
interface Job {
  readonly id: number;
  readonly ref: number | string;
  readonly source: string | undefined;
  readonly fn: Task | undefined;
  readonly args: unknown[];
  readonly mode: number;
  readonly encoded: Encoded | undefined;
  readonly transfer: Transferable[] | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
  settled: boolean;
  slot: WorkerSlot | undefined;
  ticket: number;
  cleanup: (() => void) | undefined;
  awaitingMessage: boolean;
}

/** A live worker of the pool, with its rings and tickets (see PREFETCH in _runtime.ts). */
interface WorkerSlot {
  readonly worker: Worker;
  readonly requests: Ring;
  readonly replies: Ring;
  readonly tickets: Int32Array;
  readonly freeTickets: number[];
  readonly functions: Set<number>;
  readonly messages: Map<number, unknown>;
  /** Jobs sent to the worker, in order; the first may be running, the rest wait in its ring. */
  readonly jobs: Job[];
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  dead: boolean;
}

/** A FIFO with O(1) push and shift (Array#shift is O(n) on a long queue). */
class Deque<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Puts items back at the front, in order (jobs taken back from a worker). */
  unshift(...items: T[]): void {
    if (items.length === 0) return;
    this.#items = [...items, ...this.#items.slice(this.#head)];
    this.#head = 0;
  }

  /** Removes `item` wherever it is (a cancelled task): O(n), but rare. */
  remove(item: T): void {
    const index = this.#items.indexOf(item, this.#head);
    if (index >= 0) this.#items.splice(index, 1);
  }

  /** Removes and returns every item. */
  drain(): T[] {
    const items = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return items;
  }

  replaceEach(replace: (item: T) => T): void {
    for (let i = this.#head; i < this.#items.length; i++) {
      this.#items[i] = replace(this.#items[i] as T);
    }
  }
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
  readonly #name: string;
  readonly #bell: Int32Array = new Int32Array(new SharedArrayBuffer(BELL_BYTES));
  readonly #queue: Deque<Job> = new Deque();
  readonly #slots: WorkerSlot[] = [];
  readonly #functionIds = new Map<string, number>();
  readonly #closed: PromiseWithResolvers<void> = Promise.withResolvers();
  #size: number;
  #nextId = 1;
  #inflight = 0;
  #pumping = false;
  #inlineRunning = false;
  #closing = false;
  #terminated = false;
  #completed = 0;
  #failed = 0;
  #moduleExports: Promise<Record<string, unknown>> | undefined;
  readonly #yielder: MacrotaskYielder = new MacrotaskYielder();

  /**
   * Creates a pool. Workers start on demand, when tasks arrive.
   *
   * @param options Size, task module, limits.
   * @throws {RangeError} If a size, limit or timeout is out of range.
   * @throws {TypeError} If `size > 0` is asked for where Worker is missing.
   */
  constructor(options: PoolOptions = {}) {
    const size = options.size ?? (canSpawnWorkers() ? cores() : 0);
    checkSize(size, "create the pool");
    if (size > 0 && !canSpawnWorkers()) {
      throw new TypeError(
        `Cannot create a pool of ${size} workers as this runtime has no Worker: omit size to run tasks inline, or use KvPool for background jobs`,
      );
    }
    if (options.size === undefined && !canSpawnWorkers() && !warnedInline) {
      warnedInline = true;
      console.warn("theta: no Worker in this runtime; Pool tasks run inline on this thread");
    }
    const maxQueue = options.maxQueue ?? Infinity;
    if (!(maxQueue === Infinity || (Number.isInteger(maxQueue) && maxQueue >= 0))) {
      throw new RangeError(
        `Cannot create the pool as maxQueue must be a non-negative integer: current value is ${maxQueue}`,
      );
    }
    checkTimeout(options.timeout, "timeout");
    checkTimeout(options.idleTimeout, "idleTimeout");
    this.#size = size;
    this.#module = options.module === undefined ? undefined : String(options.module);
    this.#maxQueue = maxQueue;
    this.#timeout = options.timeout;
    this.#idleTimeout = options.idleTimeout;
    this.#name = options.name ?? "theta-pool";
  }

  /** Workers the pool runs tasks on; 0 when tasks run inline. */
  get size(): number {
    return this.#size;
  }

  /** Counters: live workers, running and queued tasks, completed and failed ones. */
  get stats(): PoolStats {
    return {
      workers: this.#slots.length,
      running: this.#slots.filter((slot) => slot.jobs.length > 0).length +
        (this.#inlineRunning ? 1 : 0),
      queued: this.#queue.length +
        this.#slots.reduce((sum, slot) => sum + Math.max(0, slot.jobs.length - 1), 0),
      completed: this.#completed,
      failed: this.#failed,
    };
  }

  /**
   * Runs one task and resolves with its result.
   *
   * @param task A self-contained function, or the name of an export of the pool's module.
   * @param args The task's arguments (structured-cloneable, or shareable objects).
   * @param options A signal, a timeout, objects to transfer.
   * @returns The task's result.
   * @throws {TypeError} If an argument cannot cross threads (the promise rejects; nothing runs).
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
  run(task: Task | string, args: unknown[] = [], options: RunOptions = {}): Promise<unknown> {
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
    return this.#submit(task, args, MODE_ONCE, {}) as Promise<R>;
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
      this.#watch(job, options);
      if (!job.settled) {
        this.#queue.push(job);
        this.#dispatch();
        // Still waiting for a worker, past the limit: refuse it.
        if (job.slot === undefined && !job.settled && this.#queue.length > this.#maxQueue) {
          this.#queue.remove(job);
          this.#settle(
            job,
            false,
            new QueueFull(
              `Cannot queue the task as ${this.#maxQueue} tasks are already waiting (maxQueue)`,
            ),
          );
        }
      }
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
  ): Job {
    if (this.#closing || this.#terminated) {
      throw new PoolClosed("Cannot run the task as the pool is closed");
    }
    if (!Array.isArray(args)) {
      throw new TypeError(`Cannot run the task as args must be an array: current value is ${args}`);
    }
    let ref: number | string;
    let source: string | undefined;
    if (typeof task === "function") {
      source = functionSource(task, "a task");
      ref = this.#functionIds.get(source) ?? this.#functionIds.size + 1;
      this.#functionIds.set(source, ref);
    } else if (typeof task === "string") {
      ref = task;
    } else {
      throw new TypeError(
        `Cannot run the task as it must be a function or an export name: current value is ${typeof task}`,
      );
    }
    let encoded: Encoded | undefined;
    let transfer: Transferable[] | undefined = options.transfer;
    if (this.#size > 0 && transfer === undefined) {
      try {
        encoded = new Encoded(encode(args, "args").slice());
      } catch (error) {
        if (!(error instanceof UncloneableError && error.needsMessage)) throw error;
        transfer = [];
      }
    }
    if (transfer !== undefined) toWire(args, "args"); // Fail now, naming the path, if it cannot go.
    return {
      id: this.#nextId++,
      ref,
      source,
      fn: typeof task === "function" ? task : undefined,
      args,
      mode,
      encoded,
      transfer,
      resolve,
      reject,
      settled: false,
      slot: undefined,
      ticket: -1,
      cleanup: undefined,
      awaitingMessage: false,
    };
  }

  /** Arms the job's timeout and abort signal. */
  #watch(job: Job, options: RunOptions): void {
    const timeout = options.timeout ?? this.#timeout;
    checkTimeout(timeout, "timeout");
    const signal = options.signal;
    if (signal?.aborted) {
      this.#settle(job, false, signal.reason);
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = (): void => this.#cancel(job, signal!.reason);
    if (timeout !== undefined) {
      timer = setTimeout(() => this.#cancel(job, timeoutError(timeout)), timeout);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    job.cleanup = () => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
  }

  #settle(job: Job, ok: boolean, value: unknown): void {
    if (job.settled) return;
    job.settled = true;
    job.cleanup?.();
    if (ok) {
      this.#completed++;
      job.resolve(value);
    } else {
      this.#failed++;
      job.reject(value);
    }
  }

  /** Sends queued jobs to workers, spawning workers up to `size`. */
  #dispatch(): void {
    if (this.#terminated) return;
    if (this.#size === 0) {
      this.#runInline();
    } else {
      while (this.#queue.length > 0) {
        const slot = this.#pickSlot();
        if (slot === undefined) break;
        this.#start(this.#queue.shift()!, slot);
      }
    }
    this.#checkClosed();
  }

  /** An idle worker, else a new one, else the least busy one with a free ticket. */
  #pickSlot(): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    for (const slot of this.#slots) {
      if (slot.dead) continue;
      if (slot.jobs.length === 0) return slot;
      if (
        slot.jobs.length < PREFETCH && (best === undefined || slot.jobs.length < best.jobs.length)
      ) {
        best = slot;
      }
    }
    if (this.#slots.length < this.#size) return this.#spawn();
    return best;
  }

  #spawn(): WorkerSlot {
    const requests = Ring.create({ initialBytes: 1024 });
    const replies = Ring.create({ initialBytes: 1024 });
    const state = new SharedArrayBuffer(STATE_BYTES);
    const init: PoolWorkerInit = {
      role: "pool",
      requests: requests.handle,
      replies: replies.handle,
      state,
      bell: this.#bell.buffer as SharedArrayBuffer,
      module: this.#module,
    };
    const worker = spawnWorker(init, `${this.#name}-${this.#slots.length}`, "a pool worker");
    const slot: WorkerSlot = {
      worker,
      requests,
      replies,
      tickets: new Int32Array(state),
      freeTickets: Array.from({ length: PREFETCH }, (_, i) => i),
      functions: new Set(),
      messages: new Map(),
      jobs: [],
      idleTimer: undefined,
      dead: false,
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#crash(
        slot,
        new WorkerCrashed(`Cannot complete the task as its worker died: ${event.message}`),
      );
    };
    worker.onmessage = (event) => this.#onMessage(slot, event.data);
    this.#slots.push(slot);
    return slot;
  }

  /** Sends `job` to `slot`'s worker under a fresh ticket. */
  #start(job: Job, slot: WorkerSlot): void {
    if (slot.idleTimer !== undefined) clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    const ticket = slot.freeTickets.pop()!;
    Atomics.store(slot.tickets, ticket, job.id);
    job.ticket = ticket;
    job.slot = slot;
    slot.jobs.push(job);
    this.#inflight++;
    const source = typeof job.ref === "number" && !slot.functions.has(job.ref)
      ? job.source
      : undefined;
    if (typeof job.ref === "number") slot.functions.add(job.ref);
    if (job.encoded !== undefined) {
      slot.requests.tryPut(
        [REQUEST_CALL, job.id, job.ref, source, job.encoded, job.mode, ticket],
        false,
      );
    } else {
      slot.worker.postMessage({ id: job.id, args: toWire(job.args) }, job.transfer ?? []);
      slot.requests.tryPut(
        [REQUEST_BY_MESSAGE, job.id, job.ref, source, undefined, job.mode, ticket],
        false,
      );
    }
    this.#pump();
  }

  /** Takes `job` off its worker's list and frees its ticket. */
  #detach(job: Job): void {
    const slot = job.slot;
    if (slot === undefined) return;
    const index = slot.jobs.indexOf(job);
    if (index >= 0) slot.jobs.splice(index, 1);
    slot.freeTickets.push(job.ticket);
    job.slot = undefined;
    job.ticket = -1;
    // The pump sleeps while tasks are in flight, holding a timer; with none left it must wake to
    // end, or the timer would keep the process alive.
    if (--this.#inflight === 0) this.#wakePump();
  }

  /**
   * Takes back a job sent to a worker that has not started it.
   *
   * @returns True if taken back; false if the worker already claimed (started) it.
   */
  #steal(job: Job): boolean {
    const slot = job.slot!;
    if (Atomics.compareExchange(slot.tickets, job.ticket, job.id, 0) !== job.id) return false;
    this.#detach(job);
    return true;
  }

  /** Receives replies from every worker while any task is in flight. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    const bell = this.#bell;
    let idleSince = NaN;
    try {
      while (this.#inflight > 0) {
        if (this.#drainReplies()) {
          idleSince = NaN;
          continue;
        }
        if (this.#pollReplies()) continue;
        // No reply yet: check between event-loop turns for a while, then sleep.
        if (Number.isNaN(idleSince)) idleSince = performance.now();
        if (performance.now() - idleSince < YIELD_POLL_MS) {
          await this.#yielder.next();
          continue;
        }
        Atomics.store(bell, BELL_WAITING, 1);
        const seq = Atomics.load(bell, BELL_SEQ);
        if (this.#drainReplies() || this.#inflight === 0) {
          Atomics.store(bell, BELL_WAITING, 0);
          continue;
        }
        this.#yielder.close(); // an open port would keep the process alive while asleep
        await waitAsync(bell, BELL_SEQ, seq, Infinity);
        Atomics.store(bell, BELL_WAITING, 0);
        idleSince = NaN;
      }
    } finally {
      this.#yielder.close();
      this.#pumping = false;
    }
  }

  /** Polls the reply rings briefly (see POLL_MS); true if a reply arrived. */
  #pollReplies(): boolean {
    return pollFor(() => {
      for (const slot of this.#slots) if (slot.replies.length > 0) return true;
      return false;
    });
  }

  /** Handles every reply waiting in the workers' rings; true if there was any. */
  #drainReplies(): boolean {
    let any = false;
    for (const slot of [...this.#slots]) {
      if (slot.replies.length === 0) continue;
      for (const reply of slot.replies.takeMany()) {
        any = true;
        const [kind, id, value] = reply as [number, number, unknown];
        this.#onReply(slot, kind, id, value);
      }
    }
    return any;
  }

  #jobOf(slot: WorkerSlot, id: number): Job | undefined {
    return slot.jobs.find((job) => job.id === id);
  }

  #onReply(slot: WorkerSlot, kind: number, id: number, value: unknown): void {
    if (slot.dead) return;
    switch (kind) {
      case REPLY_OK:
      case REPLY_ERROR: {
        const job = this.#jobOf(slot, id);
        if (job !== undefined) this.#finish(slot, job, kind === REPLY_OK, value);
        return;
      }
      case REPLY_BY_MESSAGE: {
        const job = this.#jobOf(slot, id);
        if (job === undefined) return;
        if (slot.messages.has(id)) {
          const result = slot.messages.get(id);
          slot.messages.delete(id);
          this.#finish(slot, job, true, fromWire(result));
        } else {
          job.awaitingMessage = true;
        }
        return;
      }
      case REPLY_EXITED:
        this.#crash(
          slot,
          new WorkerCrashed(
            "Cannot complete the task as it closed its worker (self.close() or Deno.exit())",
          ),
        );
        return;
      case REPLY_START_FAILED:
        this.#crash(
          slot,
          new WorkerCrashed(`Cannot start a pool worker: ${(value as Error)?.message ?? value}`, {
            cause: value,
          }),
          true,
        );
        return;
    }
  }

  #onMessage(slot: WorkerSlot, data: { id: number; result: unknown }): void {
    const job = this.#jobOf(slot, data.id);
    if (job?.awaitingMessage) {
      this.#finish(slot, job, true, fromWire(data.result));
    } else {
      slot.messages.set(data.id, data.result);
    }
  }

  /** A worker's job is done: settle it, then feed, balance or retire the worker. */
  #finish(slot: WorkerSlot, job: Job, ok: boolean, value: unknown): void {
    this.#detach(job);
    this.#settle(job, ok, value);
    if (this.#slots.length > this.#size && slot.jobs.length === 0) {
      this.#retire(slot);
    } else if (slot.jobs.length === 0 && this.#queue.length === 0) {
      this.#stealFor(slot);
      if (slot.jobs.length === 0 && this.#idleTimeout !== undefined) {
        slot.idleTimer = setTimeout(() => {
          if (slot.jobs.length === 0) this.#retire(slot);
        }, this.#idleTimeout);
      }
    }
    this.#dispatch();
  }

  /** An idle worker takes a waiting job from the busiest other worker. */
  #stealFor(idle: WorkerSlot): void {
    let busiest: WorkerSlot | undefined;
    for (const slot of this.#slots) {
      if (
        slot !== idle && slot.jobs.length >= 2 && (busiest?.jobs.length ?? 1) < slot.jobs.length
      ) {
        busiest = slot;
      }
    }
    const job = busiest?.jobs.at(-1);
    if (job !== undefined && this.#steal(job)) this.#start(job, idle);
  }

  /** Ends a worker and forgets it; its jobs must have been dealt with. */
  #retire(slot: WorkerSlot, running?: Job): void {
    if (slot.dead) return;
    slot.dead = true;
    if (slot.idleTimer !== undefined) clearTimeout(slot.idleTimer);
    // terminate() does not end a thread blocked in Atomics.wait, and such a thread keeps the
    // process from exiting: flag the worker killed and wake it wherever it may wait (its own
    // ring, or a shared object its running task got as an argument).
    Atomics.store(slot.tickets, STATE_KILL, 1);
    slot.requests.stop();
    slot.worker.terminate();
    if (running !== undefined) wakeWaiters(running.args);
    const index = this.#slots.indexOf(slot);
    if (index >= 0) this.#slots.splice(index, 1);
  }

  /**
   * Before a worker is ended: its jobs that it has not started go back to the front of the
   * queue, in order. Returns the job it was running, if any.
   */
  #evacuate(slot: WorkerSlot): Job | undefined {
    let running: Job | undefined;
    const requeue: Job[] = [];
    for (const job of [...slot.jobs]) {
      if (this.#steal(job)) requeue.push(job);
      else running = job;
    }
    this.#queue.unshift(...requeue);
    return running;
  }

  /**
   * A worker died. Replies it sent before dying are handled first; then its running job, if
   * any, rejects with `error`, jobs it had not started go to other workers, and it is replaced
   * on demand.
   */
  #crash(slot: WorkerSlot, error: Error, startFailed = false): void {
    if (slot.dead) return;
    this.#drainReplies();
    const running = this.#evacuate(slot);
    this.#retire(slot);
    if (running !== undefined) {
      this.#detach(running);
      this.#settle(running, false, error);
    }
    if (startFailed) {
      // Waiting tasks would only start more failing workers: they reject too.
      for (const waiting of this.#queue.drain()) this.#settle(waiting, false, error);
    }
    this.#wakePump();
    this.#dispatch();
  }

  #wakePump(): void {
    Atomics.add(this.#bell, BELL_SEQ, 1);
    Atomics.notify(this.#bell, BELL_SEQ);
  }

  /** Timeout or abort: remove the job if it has not started, end its worker if it runs. */
  #cancel(job: Job, reason: unknown): void {
    if (job.settled) return;
    this.#drainReplies();
    if (job.settled) return;
    const slot = job.slot;
    if (slot === undefined) {
      this.#queue.remove(job);
    } else if (!this.#steal(job)) {
      // Running: its worker is ended and replaced; its other jobs move first.
      this.#detach(job);
      this.#evacuate(slot);
      this.#retire(slot, job);
      this.#wakePump();
    }
    this.#settle(job, false, reason);
    this.#dispatch();
  }

  /** Size 0: runs queued jobs here, one at a time. */
  async #runInline(): Promise<void> {
    if (this.#inlineRunning) return;
    this.#inlineRunning = true;
    try {
      while (this.#queue.length > 0 && this.#size === 0 && !this.#terminated) {
        const job = this.#queue.shift()!;
        try {
          const fn = job.fn ?? await this.#moduleTask(job.ref as string);
          let value: unknown;
          if (job.mode === MODE_EACH) {
            const results: unknown[] = [];
            for (const item of job.args[0] as unknown[]) results.push(await fn(item));
            value = results;
          } else {
            value = await fn(...job.args);
          }
          this.#settle(job, true, value);
        } catch (error) {
          this.#settle(job, false, error);
        }
      }
    } finally {
      this.#inlineRunning = false;
      this.#checkClosed();
    }
  }

  async #moduleTask(name: string): Promise<Task> {
    if (this.#module === undefined) {
      throw new TypeError(
        `Cannot run task "${name}" as the pool has no module: pass { module } to the Pool`,
      );
    }
    this.#moduleExports ??= import(this.#module);
    const fn = (await this.#moduleExports)[name];
    if (typeof fn !== "function") {
      throw new TypeError(
        `Cannot run task "${name}" as the pool's module has no function export of that name`,
      );
    }
    return fn as Task;
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
    if (size > 0 && !canSpawnWorkers()) {
      throw new TypeError(
        `Cannot resize the pool to ${size} workers as this runtime has no Worker`,
      );
    }
    this.#size = size;
    for (const slot of [...this.#slots]) {
      if (this.#slots.length <= size) break;
      if (slot.jobs.length === 0) this.#retire(slot);
    }
    // Jobs queued for workers that had no args encoded (inline mode) need them now.
    if (size > 0) {
      this.#queue.replaceEach((job) =>
        job.encoded === undefined && job.transfer === undefined
          ? { ...job, encoded: new Encoded(encode(job.args, "args").slice()) }
          : job
      );
    }
    this.#dispatch();
  }

  /**
   * Runs `task` over `items` lazily: tasks start only as the result iterator is read, at most
   * `concurrency` ahead of it. `items` may be any iterable or async iterable, including another
   * `map` or a channel reader, so maps chain into pipelines.
   *
   * @param task A self-contained function or an export name, called with one item.
   * @param items The items.
   * @param options Chunk size, order, read-ahead, signal.
   * @returns An async iterator of the results.
   * @throws {RangeError} If `chunkSize` or `concurrency` is not a positive integer.
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
    task: ((item: T) => R) | TaskName<M>,
    items: Iterable<T> | AsyncIterable<T>,
    options: MapOptions = {},
  ): AsyncIterableIterator<Awaited<R>> {
    const chunkSize = options.chunkSize ?? 1;
    const concurrency = options.concurrency ?? Math.max(1, 2 * this.#size);
    for (const [name, value] of [["chunkSize", chunkSize], ["concurrency", concurrency]] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(
          `Cannot map as ${name} must be a positive integer: current value is ${value}`,
        );
      }
    }
    const stage = options.name;
    return mapLazily(
      (chunk, signal) => {
        const results = this.#submit(task as Task | string, [chunk], MODE_EACH, { signal });
        return (stage === undefined ? results : results.catch((error) => {
          throw stageError(stage, error);
        })) as Promise<Awaited<R>[]>;
      },
      items,
      chunkSize,
      concurrency,
      options.ordered ?? true,
      options.signal,
    );
  }

  #checkClosed(): void {
    if (this.#closing && this.#queue.length === 0 && this.#inflight === 0 && !this.#inlineRunning) {
      for (const slot of [...this.#slots]) this.#retire(slot);
      this.#closed.resolve();
    }
  }

  /**
   * Finishes queued and running tasks, then ends the workers. Later `run`s reject with
   * `PoolClosed`.
   *
   * @returns A promise that resolves once every worker has ended.
   */
  close(): Promise<void> {
    this.#closing = true;
    this.#checkClosed();
    return this.#closed.promise;
  }

  /**
   * Rejects every queued and running task with `PoolClosed` and ends the workers at once.
   *
   * @returns A promise that resolves once every worker has ended.
   */
  terminate(): Promise<void> {
    this.#closing = true;
    this.#terminated = true;
    const error = new PoolClosed("Cannot complete the task as the pool was terminated");
    for (const job of this.#queue.drain()) this.#settle(job, false, error);
    for (const slot of [...this.#slots]) {
      for (const job of [...slot.jobs]) {
        this.#detach(job);
        this.#settle(job, false, error);
      }
      this.#retire(slot);
    }
    this.#inflight = 0;
    this.#wakePump();
    this.#closed.resolve();
    return this.#closed.promise;
  }

  /** Closes the pool (finishing its tasks), for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * The engine of `Pool.map`: pulls chunks from `items` as results are consumed, keeps at most
 * `concurrency` chunks in flight, and on an early exit (break, error, abort) cancels what is in
 * flight and closes the source, so upstream stages stop too.
 */
/** The error of a named pipeline stage, naming it, caused by the task's error. */
function stageError(stage: string, error: unknown): Error {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new Error(`Cannot complete pipeline stage "${stage}": ${message}`, { cause: error });
}

async function* mapLazily<T, R>(
  runChunk: (chunk: T[], signal: AbortSignal) => Promise<R[]>,
  items: Iterable<T> | AsyncIterable<T>,
  chunkSize: number,
  concurrency: number,
  ordered: boolean,
  signal: AbortSignal | undefined,
): AsyncGenerator<R, void, undefined> {
  signal?.throwIfAborted();
  const stop = new AbortController();
  const combined = signal === undefined ? stop.signal : AbortSignal.any([signal, stop.signal]);
  const source = Symbol.asyncIterator in items
    ? (items as AsyncIterable<T>)[Symbol.asyncIterator]()
    : (items as Iterable<T>)[Symbol.iterator]();
  type Slot = { promise: Promise<{ slot: Slot; results: R[] }> };
  const inFlight: Slot[] = [];
  let exhausted = false;
  const launch = async (): Promise<boolean> => {
    const chunk: T[] = [];
    while (chunk.length < chunkSize) {
      const next = await source.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      chunk.push(next.value);
    }
    if (chunk.length === 0) return false;
    const slot = {} as Slot;
    slot.promise = runChunk(chunk, combined).then((results) => ({ slot, results }));
    // Errors surface when the slot is awaited; until then they must not count as unhandled.
    slot.promise.catch(() => {});
    inFlight.push(slot);
    return true;
  };
  try {
    for (;;) {
      combined.throwIfAborted();
      while (!exhausted && inFlight.length < concurrency) {
        if (!await launch()) break;
      }
      if (inFlight.length === 0) return;
      const { slot, results } = ordered
        ? await inFlight[0]!.promise
        : await Promise.race(inFlight.map((s) => s.promise));
      inFlight.splice(inFlight.indexOf(slot), 1);
      for (const result of results) {
        combined.throwIfAborted();
        yield result;
      }
    }
  } finally {
    stop.abort(new DOMException("The map was abandoned", "AbortError"));
    await source.return?.();
  }
}

/** Options of `parallelise`. */
export interface ParalleliseOptions<A extends unknown[]> {
  /**
   * Arguments passed to every job after its id.
   *
   * @default {[]}
   */
  args?: A;
  /**
   * Jobs running at once (the workers of the temporary pool, when no `pool` is given).
   *
   * @default {Math.max(1, Math.floor(0.8 * navigator.hardwareConcurrency))}
   */
  concurrency?: number;
  /**
   * `"throw"`: the first failure rejects with a `BackgroundError`, once the other jobs settled.
   * `"warn"`: failures are reported with `console.warn` and their result is `undefined`.
   *
   * @default {"throw"}
   */
  onError?: "throw" | "warn";
  /**
   * A pool to run the jobs on; by default a temporary one is created and closed.
   *
   * @default {undefined}
   */
  pool?: Pool;
  /**
   * Called as each job settles, with the jobs settled so far and the total: for progress lines.
   *
   * @default {undefined}
   */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Runs `fn(jobId, ...args)` for every job id from 0 to `numJobs - 1` on a pool, and resolves with
 * the results in job order (mt.base's `parallelise`).
 *
 * @param fn A self-contained function of the job id and `args`.
 * @param numJobs How many jobs.
 * @param options Arguments, concurrency, error policy, pool.
 * @returns The results, in job order.
 * @throws {BackgroundError} With `onError: "throw"`, for the first job that failed.
 * @throws {RangeError} If `numJobs` or `concurrency` is not a valid count.
 *
 * @example Squares in parallel
 * ```ts
 * import { parallelise } from "@theta/theta/pool";
 * import assert from "node:assert/strict";
 *
 * const squares = await parallelise((id: number, offset: number) => id * id + offset, 5, {
 *   args: [100],
 *   concurrency: 2,
 * });
 * assert.deepEqual(squares, [100, 101, 104, 109, 116]);
 * ```
 */
export async function parallelise<A extends unknown[], R>(
  fn: (jobId: number, ...args: A) => R | Promise<R>,
  numJobs: number,
  options: ParalleliseOptions<A> = {} as ParalleliseOptions<A>,
): Promise<(Awaited<R> | undefined)[]> {
  if (!Number.isInteger(numJobs) || numJobs < 0) {
    throw new RangeError(
      `Cannot parallelise as numJobs must be a non-negative integer: current value is ${numJobs}`,
    );
  }
  const concurrency = options.concurrency ?? Math.max(1, Math.floor(0.8 * cores()));
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(
      `Cannot parallelise as concurrency must be a positive integer: current value is ${concurrency}`,
    );
  }
  const onError = options.onError ?? "throw";
  const args = (options.args ?? []) as A;
  const pool = options.pool ?? new Pool({ size: canSpawnWorkers() ? concurrency : 0 });
  try {
    const results = new Array<Awaited<R> | undefined>(numJobs).fill(undefined);
    let firstFailure: BackgroundError | undefined;
    let next = 0;
    let settled = 0;
    const worker = async (): Promise<void> => {
      while (next < numJobs) {
        const jobId = next++;
        try {
          results[jobId] = await pool.run(fn as Task, [jobId, ...args]) as Awaited<R>;
        } catch (error) {
          if (onError === "warn") {
            console.warn(`theta: background job ${jobId} failed:`, error);
          } else {
            firstFailure ??= new BackgroundError(jobId, error);
          }
        }
        options.onProgress?.(++settled, numJobs);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, numJobs) }, worker));
    if (firstFailure !== undefined) throw firstFailure;
    return results;
  } finally {
    if (options.pool === undefined) await pool.close();
  }
}
