// Copyright theta authors. MIT license.
// theta's StoppableThread: a Worker-backed thread that can be asked to stop.

import { WorkerCrashed } from "../_errors.ts";
import {
  THREAD_CRIT,
  THREAD_KILL,
  THREAD_RUNNING,
  THREAD_STATUS_BYTES,
  type ThreadWorkerInit,
} from "./protocol.ts";
import { type Outcome, unpackOutcome } from "../_worker/outcome.ts";
import type { TargetSpec } from "../_worker/task_function.ts";
import { toWire, wakeWaiters } from "../_shareable.ts";
import { endWorker, requireWorkers, spawnWorker } from "../_spawn.ts";
import type { WorkerLike } from "../_node_thread.ts";
import { ChannelWriter } from "../channel.ts";
import { EvictingQueue } from "../queue.ts";
import { Event, type WaitOptions } from "../sync.ts";
import { targetSpecOf } from "./target.ts";
import type { ThreadTarget } from "./thread_context.ts";

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
  /**
   * Aborting it stops the thread (`stop()`); an already aborted signal starts it stopped.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Channel writers to close and queues to stop when the target ends, however it ends (return,
   * throw, crash, `terminate()`), so that a reader iterating them ends too.
   *
   * @default {[]}
   */
  closeOnExit?: (ChannelWriter<unknown> | EvictingQueue<unknown>)[];
}

let threadCount = 0;

/**
 * Checks a `closeOnExit` list.
 *
 * @throws {TypeError} If it is not an array of channel writers and queues.
 */
function checkCloseOnExit(
  items: unknown,
): (ChannelWriter<unknown> | EvictingQueue<unknown>)[] {
  if (items === undefined) return [];
  if (!Array.isArray(items)) {
    throw new TypeError(
      `Cannot create the thread as closeOnExit must be an array: current value is ${typeof items}`,
    );
  }
  items.forEach((item: unknown, i) => {
    if (!(item instanceof ChannelWriter || item instanceof EvictingQueue)) {
      throw new TypeError(
        `Cannot create the thread as closeOnExit[${i}] is neither a ChannelWriter nor an EvictingQueue: current value is ${
          item === null ? "null" : typeof item === "object" ? item.constructor?.name : typeof item
        }`,
      );
    }
  });
  return items;
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
 * function sleeper(_thread: unknown, stopEvent: Event, ticked: Event): number {
 *   let t = 0;
 *   while (!stopEvent.wait(10)) { // "Slept for between t and t + 1 ticks"
 *     t += 1;
 *     ticked.set();
 *   }
 *   return t;
 * }
 * const event = new Event();
 * const ticked = new Event();
 * const thread = new StoppableThread(sleeper, { args: [event, ticked], stopEvent: event }).start();
 * await ticked.waitAsync(); // it slept at least one tick
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
  readonly #closeOnExit: (ChannelWriter<unknown> | EvictingQueue<unknown>)[];
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => this.stop();
  #worker: WorkerLike | undefined;
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
    this.#closeOnExit = checkCloseOnExit(options.closeOnExit);
    this.stopEvent = options.stopEvent ?? new Event();
    this.name = options.name ?? `theta-thread-${++threadCount}`;
    requireWorkers(`the thread "${this.name}"`);
    this.#signal = options.signal;
    if (this.#signal?.aborted) this.stopEvent.set();
    else this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
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
    if (this.#worker !== undefined) {
      const status = this.#status;
      endWorker(
        this.#worker,
        status.subarray(THREAD_KILL, THREAD_KILL + 1),
        status.subarray(THREAD_CRIT, THREAD_CRIT + 1),
      );
    }
    this.#signal?.removeEventListener("abort", this.#onAbort);
    for (const item of this.#closeOnExit) {
      if (item instanceof EvictingQueue) item.stop();
      else item.close();
    }
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
   * cooperate. `join()` then rejects with `WorkerCrashed`. Queues and channels are never left
   * locked, and a `Lock` or `Semaphore.hold()` the target holds is given back as the worker ends;
   * a target still busy in JavaScript (a loop that never yields) keeps running, and holding, until
   * it returns.
   */
  terminate(): void {
    if (this.#worker === undefined || this.#settled) return;
    this.stopEvent.set();
    Atomics.compareExchange(this.#status, THREAD_KILL, 0, 1);
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
