// Copyright theta authors. MIT license.
// fandango's ThreadedObject as Periodic: a target run every period ms in a background worker.

import { WorkerCrashed } from "../_errors.ts";
import {
  PERIODIC_CONTROL_BYTES,
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
  STAT_SLOTS,
  STAT_USAGE,
} from "./protocol.ts";
import { type Outcome, unpackOutcome } from "../_worker/outcome.ts";
import { toWire, wakeWaiters } from "../_shareable.ts";
import { endWorker, spawnWorker } from "../_spawn.ts";
import type { WorkerLike } from "../_node_thread.ts";
import { Event } from "../sync.ts";
import { checkPeriod, targetSpecOf } from "./target.ts";
import type { ThreadTarget } from "./thread_context.ts";

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
   * Aborting it stops the job (`stop()`: paused, the worker stays until `kill()`); an already
   * aborted signal keeps it from starting.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
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
  readonly #worker: WorkerLike;
  readonly #ended: PromiseWithResolvers<void> = Promise.withResolvers<void>();
  readonly #onResult: ((value: R) => void) | undefined;
  readonly #onError: (error: Error) => void;
  readonly #args: unknown[];
  #alive = true;
  #killing: Promise<void> | undefined;
  #abortSignal: AbortSignal | undefined;
  readonly #onAbort = (): void => this.stop();

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
    if (!(typeof minWait === "number" && minWait >= 0 && minWait < Infinity)) {
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
    this.#abortSignal = options.signal;
    if (this.#abortSignal?.aborted) Atomics.store(this.#control, PERIODIC_STARTED, 0);
    else this.#abortSignal?.addEventListener("abort", this.#onAbort, { once: true });
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
    Atomics.compareExchange(this.#control, PERIODIC_KILLED, 0, 1);
    Periodic.#instances.delete(this);
    endWorker(
      this.#worker,
      this.#control.subarray(PERIODIC_KILLED, PERIODIC_KILLED + 1),
      this.#control.subarray(PERIODIC_CRIT, PERIODIC_CRIT + 1),
    );
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
    this.#abortSignal?.removeEventListener("abort", this.#onAbort);
    Atomics.compareExchange(this.#control, PERIODIC_KILLED, 0, 1);
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
