// Copyright theta authors. MIT license.
// Threads that can be asked to stop (theta's StoppableThread), periodic jobs (fandango's
// ThreadedObject) and polled maps (fandango's ThreadDict). Each runs its code in a Worker started
// from the same bundled runtime as the pool's workers (_runtime.ts).

import { WorkerCrashed } from "./_errors.ts";
import {
  epochNow,
  type Outcome,
  PERIODIC_CONTROL_BYTES,
  PERIODIC_KILLED,
  PERIODIC_MIN_WAIT,
  PERIODIC_PERIOD,
  PERIODIC_SEQ,
  PERIODIC_STARTED,
  type PeriodicWorkerInit,
  type PollingRequest,
  type PollingWorkerInit,
  STAT_ACC_DELAY,
  STAT_COUNT,
  STAT_DELAY,
  STAT_ERRORS,
  STAT_LAST,
  STAT_NEXT,
  STAT_SLOTS,
  STAT_USAGE,
  type TargetSpec,
  THREAD_KILL,
  THREAD_RUNNING,
  THREAD_STATUS_BYTES,
  type ThreadWorkerInit,
  unpackOutcome,
} from "./_runtime.ts";
import { toWire, wakeWaiters } from "./_shareable.ts";
import { functionSource, moduleTarget, requireWorkers, spawnWorker } from "./_worker.ts";
import { Event, type WaitOptions } from "./sync.ts";

export { WorkerCrashed } from "./_errors.ts";

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

/** Options for {@linkcode StoppableThread}. */
export interface StoppableThreadOptions<A extends unknown[]> {
  /**
   * Arguments passed to the target after its context. Shareables (queues, events, locks)
   * arrive as the same objects.
   *
   * @default {[]}
   */
  args?: A;
  /**
   * The stop event the target sees. Pass one to share it, as in the seed's `sleeper(stop_event)`.
   *
   * @default {a new Event}
   */
  stopEvent?: Event;
  /**
   * The thread's name, in its context, errors and the inspector.
   *
   * @default {"theta-thread-N"}
   */
  name?: string;
  /**
   * For a module target: the export to run. A `#name` fragment on the URL does the same.
   *
   * @default {"default"}
   */
  export?: string;
}

let threadCount = 0;

/** Validates and describes a target given as a function or a module URL. */
function targetSpecOf(
  target: ((...args: never[]) => unknown) | URL | string,
  exportName: string | undefined,
  what: string,
): TargetSpec {
  if (typeof target === "function") return { source: functionSource(target, what) };
  if (typeof target === "string" || target instanceof URL) {
    return moduleTarget(target, exportName ?? "default");
  }
  throw new TypeError(
    `Cannot use ${what} as it must be a function or a module URL: current value is ${typeof target}`,
  );
}

/**
 * A Worker-backed thread that can be asked to stop (theta's `StoppableThread`). Stopping is
 * cooperative: the target checks `thread.running()`, or waits on `thread.wait(ms)`, which
 * returns early, true, once stop is requested. `terminate()` is the hard kill.
 *
 * The target is a self-contained function `(thread, ...args)` (its source runs in the worker),
 * or a module URL whose export (default `default`) is that function: the typed, testable form,
 * and the port of the seed's subclass form (`class SleeperThread(StoppableThread): def run`).
 *
 * @typeParam A The target's arguments after its context.
 * @typeParam R The target's result, which `join()` resolves with.
 *
 * @example The seed's sleeper, with a stop event passed in
 * ```ts
 * import { StoppableThread } from "@theta/theta/thread";
 * import { Event } from "@theta/theta/sync";
 * import assert from "node:assert/strict";
 *
 * function sleeper(_thread: unknown, stopEvent: Event): number {
 *   let t = 0;
 *   while (!stopEvent.wait(10)) t += 1; // "Slept for between t and t + 1 ticks"
 *   return t;
 * }
 * const event = new Event();
 * const thread = new StoppableThread(sleeper, { args: [event], stopEvent: event }).start();
 * await new Promise((resolve) => setTimeout(resolve, 35));
 * thread.stop();
 * assert.ok(await thread.join() >= 1);
 * ```
 *
 * @example The seed's subclass form: a module exporting `run(thread)`
 * ```ts ignore
 * // sleeper_thread.ts
 * import type { ThreadContext } from "@theta/theta/thread";
 * export default function run(thread: ThreadContext): number {
 *   let t = 0;
 *   while (!thread.wait(1000)) t += 1;
 *   return t;
 * }
 *
 * // main.ts
 * const thread = new StoppableThread<[], number>(new URL("./sleeper_thread.ts", import.meta.url));
 * thread.start();
 * ```
 */
export class StoppableThread<A extends unknown[] = [], R = unknown> {
  /** The stop event: set by `stop()`, seen by the target as `thread.stopEvent`. */
  readonly stopEvent: Event;
  /** The thread's name. */
  readonly name: string;
  readonly #target: TargetSpec;
  readonly #args: unknown;
  readonly #status: Int32Array = new Int32Array(new SharedArrayBuffer(THREAD_STATUS_BYTES));
  readonly #result: PromiseWithResolvers<R> = Promise.withResolvers<R>();
  #worker: Worker | undefined;
  #settled = false;

  /**
   * Creates a thread; `start()` runs it.
   *
   * @param target A self-contained function `(thread, ...args)`, or a module URL.
   * @param options Arguments, stop event, name and export.
   * @throws {TypeError} If the target is not a function or URL, is native, or an argument cannot
   * be sent (the error names its path); if this runtime has no Worker (Deno Deploy).
   */
  constructor(
    target: ThreadTarget<A, R> | URL | string,
    options: StoppableThreadOptions<A> = {},
  ) {
    this.#target = targetSpecOf(target, options.export, "the thread's target");
    const args = options.args ?? [];
    if (!Array.isArray(args)) {
      throw new TypeError(
        `Cannot create the thread as args must be an array: current value is ${args}`,
      );
    }
    this.#args = toWire(args, "args");
    this.stopEvent = options.stopEvent ?? new Event();
    this.name = options.name ?? `theta-thread-${++threadCount}`;
    requireWorkers(`the thread "${this.name}"`);
    // join() is the place to see the error; without a join it must not end the process.
    this.#result.promise.catch(() => {});
  }

  /**
   * Starts the thread's worker. It makes progress without this thread's event loop, so the
   * owner may block on a queue the thread feeds right after.
   *
   * @returns This thread.
   * @throws {TypeError} If already started, or this runtime has no Worker.
   */
  start(): this {
    if (this.#worker !== undefined) {
      throw new TypeError(`Cannot start the thread "${this.name}" as it was already started`);
    }
    const init: ThreadWorkerInit = {
      role: "thread",
      target: this.#target,
      args: this.#args,
      stop: this.stopEvent.handle,
      status: this.#status.buffer as SharedArrayBuffer,
      name: this.name,
    };
    const worker = spawnWorker(init, this.name, `the thread "${this.name}"`);
    this.#worker = worker;
    worker.onmessage = (event: MessageEvent) => this.#onMessage(event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#settle(
        { ok: false, value: new WorkerCrashed(`The thread "${this.name}" died: ${event.message}`) },
      );
    };
    return this;
  }

  #onMessage(data: { kind: "done"; outcome: Outcome } | { kind: "exited" }): void {
    if (data.kind === "done") {
      this.#settle(unpackOutcome(data.outcome));
    } else {
      this.#settle({
        ok: false,
        value: new WorkerCrashed(
          `The thread "${this.name}" closed its worker (self.close() or Deno.exit()) before its target returned`,
        ),
      });
    }
  }

  #settle(outcome: { ok: boolean; value: unknown }): void {
    if (this.#settled) return;
    this.#settled = true;
    Atomics.store(this.#status, 0, 1);
    this.#worker?.terminate();
    if (outcome.ok) this.#result.resolve(outcome.value as R);
    else this.#result.reject(outcome.value);
  }

  /** Requests the thread to stop (sets the stop event). Safe to call many times. */
  stop(): void {
    this.stopEvent.set();
  }

  /**
   * Whether stop was requested.
   *
   * @returns True once `stop()` was called (or the shared stop event set).
   */
  stopped(): boolean {
    return this.stopEvent.isSet();
  }

  /**
   * Whether stop was not requested yet.
   *
   * @returns The opposite of `stopped()`.
   */
  running(): boolean {
    return !this.stopEvent.isSet();
  }

  /**
   * Blocks on the stop event, like the target's own `wait`.
   *
   * @param timeout Milliseconds at most; no limit if undefined.
   * @returns True if stop was requested, false on timeout.
   * @throws {RangeError} If `timeout` is negative.
   */
  wait(timeout?: number): boolean {
    return this.stopEvent.wait(timeout);
  }

  /**
   * Waits on the stop event without blocking.
   *
   * @param options A timeout in ms, or `{ timeout, signal }`.
   * @returns True if stop was requested, false on timeout.
   * @throws {RangeError} If the timeout is negative.
   */
  waitAsync(options?: number | WaitOptions): Promise<boolean> {
    return this.stopEvent.waitAsync(options);
  }

  /**
   * Waits for the target to end.
   *
   * @returns The target's return value.
   * @throws The target's error (with its name, message, stack and cause), `WorkerCrashed` if
   * the worker died or was terminated, `TypeError` if the thread was never started.
   */
  join(): Promise<R> {
    if (this.#worker === undefined) {
      return Promise.reject(
        new TypeError(`Cannot join the thread "${this.name}" as it was not started`),
      );
    }
    return this.#result.promise;
  }

  /**
   * Whether the thread was started and its target has not ended. Read from shared memory, so it
   * is current even while this thread's event loop is busy.
   *
   * @returns True while the target runs.
   */
  isAlive(): boolean {
    return this.#worker !== undefined && !this.#settled &&
      Atomics.load(this.#status, 0) === THREAD_RUNNING;
  }

  /**
   * Ends the worker at once, wherever its target is: the hard kill, for a target that does not
   * cooperate. `join()` then rejects with `WorkerCrashed`. A target holding a shared lock or
   * mid-way through a queue operation when killed may leave it held.
   */
  terminate(): void {
    if (this.#worker === undefined || this.#settled) return;
    this.stopEvent.set();
    Atomics.store(this.#status, THREAD_KILL, 1);
    this.#settle({
      ok: false,
      value: new WorkerCrashed(`The thread "${this.name}" was terminated`),
    });
    // A target blocked on a shared queue or lock it got as an argument must wake to see the
    // kill word (see Termination in _futex.ts).
    wakeWaiters(this.#args); // the wire form holds the same handles
  }

  /** Stops the thread and waits for it to end; its error, if any, is left to `join()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.stop();
    if (this.#worker !== undefined) await this.#result.promise.catch(() => {});
  }
}

/** The diagnostics of a {@linkcode Periodic} (fandango's `get_count`, `get_delay`, ...). */
export interface PeriodicStats {
  /** Runs finished, failed ones included. */
  count: number;
  /** Runs that threw. */
  errors: number;
  /** How late the last run started, in ms. */
  delay: number;
  /** The sum of every run's lateness, in ms. */
  accDelay: number;
  /** The fraction of time spent running the target since the first run, 0 to 1. */
  usage: number;
  /** When the next run is due (epoch ms), or NaN while paused. */
  next: number;
  /** When the last run started (epoch ms), or NaN before the first. */
  last: number;
}

/** Options for {@linkcode Periodic}. */
export interface PeriodicOptions<R> {
  /** Milliseconds between scheduled starts. */
  period: number;
  /**
   * The least time between a run's end and the next start, when running late.
   *
   * @default {0.01}
   */
  minWait?: number;
  /**
   * Start running at once; else wait for `start()`. The worker starts either way.
   *
   * @default {false}
   */
  start?: boolean;
  /**
   * Arguments passed to the target after its context.
   *
   * @default {[]}
   */
  args?: unknown[];
  /**
   * Called on this thread with each run's result. Without it, results are not sent back.
   *
   * @default {undefined}
   */
  onResult?: (value: R) => void;
  /**
   * Called on this thread with each run's error; the next run still happens.
   *
   * @default {console.error}
   */
  onError?: (error: Error) => void;
  /**
   * For a module target: the export to run.
   *
   * @default {"default"}
   */
  export?: string;
  /**
   * The name of its worker.
   *
   * @default {"theta-periodic-N"}
   */
  name?: string;
}

/** How long `kill()` lets a run finish before terminating the worker. */
const KILL_GRACE_MS = 1000;

let periodicCount = 0;

function checkPeriod(period: number, what: string): void {
  if (!(typeof period === "number" && period > 0 && period < Infinity)) {
    throw new RangeError(
      `Cannot set ${what} as it must be a positive finite number of ms: current value is ${period}`,
    );
  }
}

/**
 * Runs a target every `period` ms in a background worker, compensating for the target's own run
 * time (fandango's `ThreadedObject`): the next start is the previous scheduled start plus the
 * period; when that is past, it waits at least `minWait` after the run. It never throws for
 * being late; `stats` tells how it keeps up.
 *
 * `start()` begins or resumes, `stop()` pauses (the worker stays), `kill()` ends it. All live
 * instances are in `Periodic.instances`, for `Periodic.stopAll()` and `Periodic.killAll()`.
 *
 * @typeParam R The target's result.
 *
 * @example Sampling every 10 ms
 * ```ts
 * import { Periodic } from "@theta/theta/thread";
 * import assert from "node:assert/strict";
 *
 * const samples: number[] = [];
 * await using job = new Periodic(() => performance.now(), {
 *   period: 10,
 *   start: true,
 *   onResult: (value) => samples.push(value),
 * });
 * while (samples.length < 3) await new Promise((resolve) => setTimeout(resolve, 10));
 * job.stop();
 * assert.ok(job.stats.count >= 3);
 * assert.equal(job.started(), false);
 * ```
 */
export class Periodic<R = unknown> {
  // deno-lint-ignore no-explicit-any
  static readonly #instances: Set<Periodic<any>> = new Set();

  /**
   * The live (not killed) instances.
   *
   * @returns A read-only view.
   */
  // deno-lint-ignore no-explicit-any
  static get instances(): ReadonlySet<Periodic<any>> {
    return Periodic.#instances;
  }

  /** Pauses every live instance. */
  static stopAll(): void {
    for (const periodic of Periodic.#instances) periodic.stop();
  }

  /**
   * Kills every live instance.
   *
   * @returns A promise that resolves once every worker ended.
   */
  static async killAll(): Promise<void> {
    await Promise.all([...Periodic.#instances].map((periodic) => periodic.kill()));
  }

  readonly #control: Int32Array;
  readonly #settings: Float64Array;
  readonly #stats: Float64Array;
  readonly #stopEvent: Event = new Event();
  readonly #worker: Worker;
  readonly #ended: PromiseWithResolvers<void> = Promise.withResolvers<void>();
  readonly #onResult: ((value: R) => void) | undefined;
  readonly #onError: (error: Error) => void;
  readonly #args: unknown[];
  #alive = true;
  #killing: Promise<void> | undefined;

  /**
   * Creates the job and starts its worker.
   *
   * @param target A self-contained function `(thread, ...args)`, or a module URL.
   * @param options The period and the rest.
   * @throws {RangeError} If `period` or `minWait` is not a positive (non-negative) finite number.
   * @throws {TypeError} If the target is not a function or URL, or an argument cannot be sent.
   */
  constructor(target: ThreadTarget<never[], R> | URL | string, options: PeriodicOptions<R>) {
    checkPeriod(options?.period, "the period");
    const minWait = options.minWait ?? 0.01;
    if (!(minWait >= 0 && minWait < Infinity)) {
      throw new RangeError(
        `Cannot create the job as minWait must be a non-negative finite number of ms: current value is ${minWait}`,
      );
    }
    const spec = targetSpecOf(target, options.export, "the periodic target");
    this.#args = options.args ?? [];
    const args = toWire(this.#args, "args");
    const control = new SharedArrayBuffer(PERIODIC_CONTROL_BYTES);
    const stats = new SharedArrayBuffer(STAT_SLOTS * 8);
    this.#control = new Int32Array(control, 0, 4);
    this.#settings = new Float64Array(control, 16, 2);
    this.#stats = new Float64Array(stats);
    this.#stats[STAT_NEXT] = NaN;
    this.#stats[STAT_LAST] = NaN;
    this.#settings[PERIODIC_PERIOD] = options.period;
    this.#settings[PERIODIC_MIN_WAIT] = minWait;
    this.#onResult = options.onResult;
    this.#onError = options.onError ?? ((error) => console.error(error));
    if (options.start) Atomics.store(this.#control, PERIODIC_STARTED, 1);
    const name = options.name ?? `theta-periodic-${++periodicCount}`;
    const init: PeriodicWorkerInit = {
      role: "periodic",
      target: spec,
      args,
      stop: this.#stopEvent.handle,
      control,
      stats,
      name,
      reportResults: options.onResult !== undefined,
    };
    this.#worker = spawnWorker(init, name, "a Periodic job");
    this.#worker.onmessage = (event: MessageEvent) => this.#onMessage(event.data);
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#onError(new WorkerCrashed(`The periodic job's worker died: ${event.message}`));
      this.#end();
    };
    Periodic.#instances.add(this);
  }

  #onMessage(data: { kind: string; outcome?: Outcome }): void {
    switch (data.kind) {
      case "result": {
        if (this.#killing !== undefined) return; // a run cut short by kill() is no error
        const { ok, value } = unpackOutcome(data.outcome!);
        this.#report(ok, value);
        return;
      }
      case "failed":
        this.#report(false, unpackOutcome(data.outcome!).value);
        this.#end();
        return;
      case "exited":
        this.#report(
          false,
          new WorkerCrashed("The periodic job closed its worker (self.close() or Deno.exit())"),
        );
        this.#end();
        return;
      case "ended":
        this.#end();
        return;
    }
  }

  /** Hands a run's outcome to the callbacks; a throwing callback cannot stop the job. */
  #report(ok: boolean, value: unknown): void {
    try {
      if (ok) this.#onResult?.(value as R);
      else this.#onError(value as Error);
    } catch (error) {
      console.error(error);
    }
  }

  #end(): void {
    this.#alive = false;
    Atomics.store(this.#control, PERIODIC_KILLED, 1);
    Periodic.#instances.delete(this);
    this.#worker.terminate();
    this.#ended.resolve();
  }

  #signal(): void {
    Atomics.add(this.#control, PERIODIC_SEQ, 1);
    Atomics.notify(this.#control, PERIODIC_SEQ);
  }

  /**
   * Begins or resumes the runs; the first is due at once.
   *
   * @returns This job.
   * @throws {TypeError} If the job was killed.
   */
  start(): this {
    if (!this.#alive) throw new TypeError("Cannot start the periodic job as it was killed");
    Atomics.store(this.#control, PERIODIC_STARTED, 1);
    this.#signal();
    return this;
  }

  /** Pauses after the current run, if any; the worker stays for `start()`. */
  stop(): void {
    Atomics.store(this.#control, PERIODIC_STARTED, 0);
    this.#signal();
  }

  /**
   * Whether the job is running (started and not paused or killed).
   *
   * @returns True while runs are scheduled.
   */
  started(): boolean {
    return this.#alive && Atomics.load(this.#control, PERIODIC_STARTED) === 1;
  }

  /**
   * Whether the job was not killed.
   *
   * @returns True until `kill()` (or its worker died).
   */
  isAlive(): boolean {
    return this.#alive;
  }

  /**
   * Ends the job: the current run finishes (for at most a second), then the worker ends.
   *
   * @returns A promise that resolves once the worker ended.
   */
  kill(): Promise<void> {
    if (this.#killing !== undefined) return this.#killing;
    Atomics.store(this.#control, PERIODIC_KILLED, 1);
    this.#stopEvent.set();
    this.#signal();
    const grace = setTimeout(() => {
      this.#end();
      wakeWaiters(this.#args); // a run blocked on a shared object it got must wake to end
    }, KILL_GRACE_MS);
    this.#killing = this.#ended.promise.finally(() => clearTimeout(grace));
    return this.#killing;
  }

  /** Milliseconds between scheduled starts. The run being waited for takes a new value. */
  get period(): number {
    return this.#settings[PERIODIC_PERIOD]!;
  }

  /** @throws {RangeError} If not a positive finite number. */
  set period(value: number) {
    checkPeriod(value, "the period");
    this.#settings[PERIODIC_PERIOD] = value;
    this.#signal();
  }

  /** A snapshot of the job's diagnostics, read from shared memory. */
  get stats(): PeriodicStats {
    const stats = this.#stats;
    return {
      count: stats[STAT_COUNT]!,
      errors: stats[STAT_ERRORS]!,
      delay: stats[STAT_DELAY]!,
      accDelay: stats[STAT_ACC_DELAY]!,
      usage: stats[STAT_USAGE]!,
      next: this.started() ? stats[STAT_NEXT]! : NaN,
      last: stats[STAT_LAST]!,
    };
  }

  /** Kills the job. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.kill();
  }
}

/** Options for {@linkcode PollingMap}. */
export interface PollingMapOptions<K, V> {
  /** Produces a key's value, in the background worker: a self-contained function or a module URL. */
  read: ((key: K) => V | Promise<V>) | URL | string;
  /**
   * Writes a key's value, in the same worker (so a module's state is shared with `read`).
   *
   * @default {undefined}
   */
  write?: ((key: K, value: V) => unknown) | URL | string;
  /**
   * The polling period of keys added without one, in ms.
   *
   * @default {1000}
   */
  period?: number;
  /**
   * Age in ms after which a polled value reads as `undefined`; no limit if undefined.
   *
   * @default {undefined}
   */
  expire?: number;
  /**
   * Called with errors thrown by polled reads.
   *
   * @default {console.error}
   */
  onError?: (error: unknown, key: K) => void;
}

interface PolledEntry<K, V> {
  key: K;
  value: V | undefined;
  /** When the value was read (epoch ms), or NaN before the first read. */
  time: number;
}

interface PendingRequest {
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

/**
 * A map whose values are produced by `read(key)`, polled in a background worker (fandango's
 * `ThreadDict`). `get` returns the latest polled value at once; `refresh` reads now; `set` calls
 * `write` in the same worker. For a module URL, a `#name` fragment picks the export, so `read`
 * and `write` can share one module's state: `new URL("./device.ts#read", import.meta.url)`.
 *
 * @typeParam K The keys (primitives compare by value).
 * @typeParam V The values.
 *
 * @example Polling a value
 * ```ts
 * import { PollingMap } from "@theta/theta/thread";
 * import assert from "node:assert/strict";
 *
 * await using map = new PollingMap<string, string>({
 *   read: (key: string) => `${key} read at ${Date.now()}`,
 *   period: 20,
 * });
 * map.poll("sensor");
 * assert.equal(map.get("sensor"), undefined); // not polled yet
 * assert.match(await map.refresh("sensor"), /^sensor read at \d+$/);
 * assert.match(map.get("sensor")!, /^sensor read at/);
 * ```
 */
export class PollingMap<K, V> {
  readonly #worker: Worker;
  readonly #ids: Map<K, number> = new Map();
  readonly #entries: Map<number, PolledEntry<K, V>> = new Map();
  readonly #pending: Map<number, PendingRequest> = new Map();
  readonly #listeners: Set<(key: K, value: V) => void> = new Set();
  readonly #period: number;
  readonly #expire: number | undefined;
  readonly #onError: (error: unknown, key: K) => void;
  #nextId = 1;
  #nextRequest = 1;
  #closed = false;

  /**
   * Creates the map and its worker.
   *
   * @param options The read function and the rest.
   * @throws {TypeError} If `read` or `write` is not a function or URL.
   * @throws {RangeError} If `period` or `expire` is not a positive finite number.
   */
  constructor(options: PollingMapOptions<K, V>) {
    this.#period = options.period ?? 1000;
    checkPeriod(this.#period, "the period");
    if (options.expire !== undefined) checkPeriod(options.expire, "expire");
    this.#expire = options.expire;
    this.#onError = options.onError ?? ((error) => console.error(error));
    const init: PollingWorkerInit = {
      role: "polling",
      read: targetSpecOf(options.read, undefined, "read"),
      write: options.write === undefined
        ? undefined
        : targetSpecOf(options.write, undefined, "write"),
    };
    this.#worker = spawnWorker(init, "theta-polling-map", "a PollingMap");
    this.#worker.onmessage = (event: MessageEvent) => this.#onMessage(event.data);
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#shutdown(new WorkerCrashed(`The PollingMap's worker died: ${event.message}`));
    };
  }

  #send(message: PollingRequest): void {
    this.#worker.postMessage(message);
  }

  #onMessage(
    data:
      | { kind: "value"; id: number; outcome: Outcome; time: number }
      | { kind: "reply"; request: number; id?: number; outcome: Outcome; time?: number }
      | { kind: "exited" },
  ): void {
    if (data.kind === "exited") {
      this.#shutdown(new WorkerCrashed("The PollingMap's read or write closed its worker"));
      return;
    }
    const { ok, value } = unpackOutcome(data.outcome);
    if (data.kind === "value") {
      const entry = this.#entries.get(data.id);
      if (entry === undefined) return;
      if (ok) this.#update(entry, value as V, data.time);
      else this.#onError(value, entry.key);
      return;
    }
    const pending = this.#pending.get(data.request);
    this.#pending.delete(data.request);
    if (ok && data.id !== undefined) {
      const entry = this.#entries.get(data.id);
      if (entry !== undefined) this.#update(entry, value as V, data.time!);
    }
    if (ok) pending?.resolve(value);
    else pending?.reject(value);
  }

  #update(entry: PolledEntry<K, V>, value: V, time: number): void {
    if (time < entry.time) return; // an older read finishing late
    entry.value = value;
    entry.time = time;
    for (const listener of this.#listeners) {
      try {
        listener(entry.key, value);
      } catch (error) {
        console.error(error);
      }
    }
  }

  #checkOpen(what: string): void {
    if (this.#closed) throw new TypeError(`Cannot ${what} as the PollingMap is closed`);
  }

  #request(message: PollingRequest): Promise<unknown> {
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.#pending.set((message as { request: number }).request, { resolve, reject });
    this.#send(message);
    return promise;
  }

  /**
   * Adds `key` to the polled keys (seed: `append(key, period)`), or changes its period. The
   * first read is due at once.
   *
   * @param key The key.
   * @param period Its polling period in ms; the map's period if undefined.
   * @throws {RangeError} If `period` is not a positive finite number.
   * @throws {TypeError} If the map is closed.
   */
  poll(key: K, period: number = this.#period): void {
    this.#checkOpen("poll a key");
    checkPeriod(period, "the period");
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = this.#nextId++;
      this.#ids.set(key, id);
      this.#entries.set(id, { key, value: undefined, time: NaN });
    }
    this.#send({ kind: "poll", id, key, period });
  }

  /**
   * Stops polling `key` and forgets its value.
   *
   * @param key The key.
   * @returns True if it was polled.
   */
  unpoll(key: K): boolean {
    const id = this.#ids.get(key);
    if (id === undefined) return false;
    this.#ids.delete(key);
    this.#entries.delete(id);
    if (!this.#closed) this.#send({ kind: "unpoll", id });
    return true;
  }

  /**
   * The latest polled value of `key`, at once.
   *
   * @param key The key.
   * @returns The value; undefined before its first read, when older than `expire`, or for a key
   * not polled.
   */
  get(key: K): V | undefined {
    const id = this.#ids.get(key);
    const entry = id === undefined ? undefined : this.#entries.get(id);
    if (entry === undefined || Number.isNaN(entry.time)) return undefined;
    if (this.#expire !== undefined && epochNow() - entry.time > this.#expire) return undefined;
    return entry.value;
  }

  /**
   * Reads `key` now, in the worker; a polled key's cached value is updated too.
   *
   * @param key The key (polled or not).
   * @returns The value read.
   * @throws The read's error; `TypeError` if the map is closed.
   */
  refresh(key: K): Promise<V> {
    this.#checkOpen("refresh a key");
    const request = this.#nextRequest++;
    return this.#request({ kind: "refresh", id: this.#ids.get(key) ?? 0, key, request }) as Promise<
      V
    >;
  }

  /**
   * Writes `value` for `key` through `write`, in the worker.
   *
   * @param key The key.
   * @param value The value.
   * @returns What `write` returned.
   * @throws The write's error; `TypeError` if there is no `write` or the map is closed.
   */
  set(key: K, value: V): Promise<unknown> {
    this.#checkOpen("set a value");
    const request = this.#nextRequest++;
    return this.#request({ kind: "set", key, value, request });
  }

  /**
   * Whether `key` is polled.
   *
   * @param key The key.
   * @returns True if polled.
   */
  has(key: K): boolean {
    return this.#ids.has(key);
  }

  /**
   * The polled keys.
   *
   * @returns An iterator over them.
   */
  keys(): IterableIterator<K> {
    return this.#ids.keys();
  }

  /**
   * The polled keys with their current values (as `get` returns them).
   *
   * @returns An iterator of `[key, value]`.
   */
  *entries(): IterableIterator<[K, V | undefined]> {
    for (const key of [...this.#ids.keys()]) yield [key, this.get(key)];
  }

  /** How many keys are polled. */
  get size(): number {
    return this.#ids.size;
  }

  /**
   * Calls `listener` with each new value, polled or refreshed.
   *
   * @param listener Called with the key and its value.
   * @returns A function that removes the listener.
   */
  onUpdate(listener: (key: K, value: V) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #shutdown(reason: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#worker.terminate();
    for (const pending of this.#pending.values()) pending.reject(reason);
    this.#pending.clear();
  }

  /**
   * Stops polling and ends the worker; pending `refresh` and `set` calls reject.
   *
   * @returns A promise that resolves once closed.
   */
  close(): Promise<void> {
    this.#shutdown(new TypeError("Cannot finish the request as the PollingMap was closed"));
    return Promise.resolve();
  }

  /** Closes the map. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
