// Copyright theta authors. MIT license.
// The running task's context: its id, a signal that aborts when it is cancelled, and progress
// reports. One registry per thread, on the global object, because a task module imports theta's
// pool.ts as its own module instance while the worker runs theta's bundled copy: both must see
// the same running task.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and import only bundled modules.

/** What a running task knows of itself (see `taskContext()` in pool.ts). */
export interface TaskContext {
  /** The task's id, unique in its pool. */
  readonly id: number;
  /**
   * Aborts when the task times out, is aborted, or its pool is terminated: a cooperative task
   * checks `signal.aborted` (current even in a loop that never yields) or listens for `abort`.
   */
  readonly signal: AbortSignal;
  /** Sends `value` to the caller's `RunOptions.onProgress`, in order. */
  progress(value: unknown): void;
}

/** The global key of this thread's current-context getter. */
export const TASK_CONTEXT_KEY: unique symbol = Symbol.for("theta.taskContext") as never;

/** This thread's running task context, if any. */
export class CurrentTask {
  /** The running task's context, once made (or set directly by an executor). */
  static context: TaskContext | undefined;
  /**
   * The id of the running task whose context is made on first use, or 0. A pool worker sets it
   * per task, and `make` once: most tasks never ask for their context, and making one costs a
   * record and two closures a task.
   */
  static running = 0;
  static make: ((id: number) => TaskContext) | undefined;

  /** The running task's context, made now if it is due and not made yet. */
  static current(): TaskContext | undefined {
    if (CurrentTask.context === undefined && CurrentTask.running !== 0) {
      CurrentTask.context = CurrentTask.make?.(CurrentTask.running);
    }
    return CurrentTask.context;
  }

  /** Makes `CurrentTask.current()` what `taskContext()` returns in this thread, in every copy. */
  static install(): void {
    (globalThis as Record<symbol, unknown>)[TASK_CONTEXT_KEY] = () => CurrentTask.current();
  }
}

/**
 * The context of the pool task running in this thread: its `id`, a `signal` that aborts when the
 * task times out, is aborted or its pool is terminated, and `progress(value)`, which reaches the
 * caller's `RunOptions.onProgress` in order. Module tasks import it; function tasks, which run
 * from their source text, call `theta.taskContext()` (the worker's global).
 *
 * @returns The running task's context.
 * @throws {TypeError} If no pool task runs in this thread.
 *
 * @example A cooperative, CPU-bound task with progress
 * ```ts
 * import { Pool } from "@theta/theta/pool";
 * import assert from "node:assert/strict";
 *
 * await using pool = new Pool({ size: 1 });
 * const seen: unknown[] = [];
 * const count = (n: number): number => {
 *   // In a module task: import { taskContext } from "@theta/theta/pool".
 *   const { signal, progress } = (globalThis as any).theta.taskContext();
 *   let i = 0;
 *   for (; i < n && !signal.aborted; i++) if (i % 1000 === 0) progress(i);
 *   return i;
 * };
 * assert.equal(await pool.run(count, [3000], { onProgress: (v) => seen.push(v) }), 3000);
 * assert.deepEqual(seen, [0, 1000, 2000]);
 * ```
 */
export function taskContext(): TaskContext {
  const get = (globalThis as Record<symbol, unknown>)[TASK_CONTEXT_KEY] as
    | (() => TaskContext | undefined)
    | undefined;
  const context = get?.();
  if (context === undefined) {
    throw new TypeError(
      "Cannot get the task context as no pool task is running in this thread: call taskContext() from a task while it runs",
    );
  }
  return context;
}

/**
 * A task's signal whose `aborted`, `reason` and `throwIfAborted()` first consult `cancelled()`:
 * a read of shared memory, so a task busy in a loop sees its cancellation without an event-loop
 * turn. The `abort` event fires on that first look, or when `poke()` is called.
 */
export class SharedSignal {
  readonly controller: AbortController = new AbortController();
  readonly #cancelled: () => unknown;
  readonly #aborted: () => boolean;

  /** @param cancelled Returns the abort reason once the task is cancelled, else undefined. */
  constructor(cancelled: () => unknown) {
    this.#cancelled = cancelled;
    const signal = this.controller.signal;
    const proto = AbortSignal.prototype;
    const aborted = Object.getOwnPropertyDescriptor(proto, "aborted")!.get!;
    this.#aborted = () => aborted.call(signal) as boolean;
    const reason = Object.getOwnPropertyDescriptor(proto, "reason")!.get!;
    const poke = (): void => this.poke();
    Object.defineProperties(signal, {
      aborted: {
        get(): boolean {
          poke();
          return aborted.call(signal);
        },
      },
      reason: {
        get(): unknown {
          poke();
          return reason.call(signal);
        },
      },
      throwIfAborted: {
        value(): void {
          poke();
          proto.throwIfAborted.call(signal);
        },
      },
    });
  }

  /** The signal. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  #poking = false;

  /** Aborts the signal if the task was cancelled. */
  poke(): void {
    // abort() reads signal.aborted itself: that read must not abort again.
    if (this.#poking || this.#aborted()) return;
    const reason = this.#cancelled();
    if (reason === undefined) return;
    this.#poking = true;
    try {
      this.controller.abort(reason);
    } finally {
      this.#poking = false;
    }
  }
}
