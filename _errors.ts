// Copyright theta authors. MIT license.
// Every error class theta throws, in one place so that the codec can revive them by name on the
// other side of a worker boundary (`errorClassByName`). Public modules re-export their own.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported and free of imports that the bundle does not contain.

/**
 * Thrown by `put` on a stopped queue, and by `get` once a stopped queue is drained.
 *
 * @example Draining a stopped queue
 * ```ts
 * import { EvictingQueue, QueueStopped } from "@theta/theta/queue";
 * import assert from "node:assert/strict";
 *
 * const queue = new EvictingQueue<number>();
 * queue.put(1);
 * queue.stop();
 * assert.equal(queue.get(), 1);
 * assert.throws(() => queue.get(), QueueStopped);
 * ```
 */
export class QueueStopped extends Error {
  /**
   * Creates the error.
   *
   * @param message What was refused.
   * @param options The `cause`, if any.
   */
  constructor(message = "Cannot use the queue as it is stopped", options?: ErrorOptions) {
    super(message, options);
    this.name = "QueueStopped";
  }
}

/**
 * Thrown by a blocking call whose timeout expired before it could complete.
 *
 * @example Timing out a get
 * ```ts
 * import { EvictingQueue, QueueTimeout } from "@theta/theta/queue";
 * import assert from "node:assert/strict";
 *
 * const queue = new EvictingQueue<number>();
 * assert.throws(() => queue.get(10), QueueTimeout);
 * ```
 */
export class QueueTimeout extends Error {
  /**
   * Creates the error.
   *
   * @param message What timed out.
   * @param options The `cause`, if any.
   */
  constructor(message = "Cannot complete the call as its timeout expired", options?: ErrorOptions) {
    super(message, options);
    this.name = "QueueTimeout";
  }
}

/**
 * Thrown by `peek` and `peekLeft` on an empty queue.
 *
 * @example Peeking an empty queue
 * ```ts
 * import { EvictingQueue, QueueEmpty } from "@theta/theta/queue";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => new EvictingQueue().peek(), QueueEmpty);
 * ```
 */
export class QueueEmpty extends Error {
  /**
   * Creates the error.
   *
   * @param message What found the queue empty.
   * @param options The `cause`, if any.
   */
  constructor(message = "Cannot peek as the queue is empty", options?: ErrorOptions) {
    super(message, options);
    this.name = "QueueEmpty";
  }
}

/**
 * Thrown when a bounded store refuses an item: an unbounded queue past its `maxBytes`, a pool
 * past its `maxQueue`, a call queue past its `maxSize`.
 *
 * @example A queue whose byte storage is exhausted
 * ```ts
 * import { EvictingQueue, QueueFull } from "@theta/theta/queue";
 * import assert from "node:assert/strict";
 *
 * const queue = new EvictingQueue<string>(undefined, { maxBytes: 1024 });
 * assert.throws(() => queue.put("x".repeat(4096)), QueueFull);
 * ```
 */
export class QueueFull extends Error {
  /**
   * Creates the error.
   *
   * @param message What was full.
   * @param options The `cause`, if any.
   */
  constructor(message = "Cannot add the item as the queue is full", options?: ErrorOptions) {
    super(message, options);
    this.name = "QueueFull";
  }
}

/**
 * Thrown by a pool that was closed or terminated, for tasks it will never run.
 *
 * @example Running on a closed pool
 * ```ts
 * import { Pool, PoolClosed } from "@theta/theta/pool";
 * import assert from "node:assert/strict";
 *
 * const pool = new Pool({ size: 0 });
 * await pool.close();
 * await assert.rejects(pool.run((x: number) => x, [1]), PoolClosed);
 * ```
 */
export class PoolClosed extends Error {
  /**
   * Creates the error.
   *
   * @param message Why the task will not run.
   * @param options The `cause`, if any.
   */
  constructor(message = "Cannot run the task as the pool is closed", options?: ErrorOptions) {
    super(message, options);
    this.name = "PoolClosed";
  }
}

/**
 * Rejects the task that was running in a worker when the worker died: an uncaught error outside
 * the task's own promise, `self.close()`, `Deno.exit()`, or a failure to start. Other tasks are
 * not affected; the worker is replaced.
 *
 * @example A task that ends its worker
 * ```ts
 * import { Pool, WorkerCrashed } from "@theta/theta/pool";
 * import assert from "node:assert/strict";
 *
 * await using pool = new Pool({ size: 1 });
 * await assert.rejects(pool.run(() => self.close()), WorkerCrashed);
 * assert.equal(await pool.run((x: number) => x + 1, [1]), 2);
 * ```
 */
export class WorkerCrashed extends Error {
  /**
   * Creates the error.
   *
   * @param message What happened to the worker.
   * @param options The `cause`, if any: the uncaught error when there was one.
   */
  constructor(message = "Cannot complete the task as its worker died", options?: ErrorOptions) {
    super(message, options);
    this.name = "WorkerCrashed";
  }
}

/**
 * The first failure of a `parallelise` run with `onError: "throw"`: its `jobId`, and the job's
 * own error as `cause`.
 *
 * @example Catching a failed job
 * ```ts
 * import { BackgroundError, parallelise, Pool } from "@theta/theta/pool";
 * import assert from "node:assert/strict";
 *
 * await using pool = new Pool({ size: 0 });
 * const failing = (id: number) => {
 *   if (id === 2) throw new RangeError("job 2 is unlucky");
 *   return id;
 * };
 * const error = await parallelise(failing, 4, { pool }).catch((e) => e);
 * assert.ok(error instanceof BackgroundError);
 * assert.equal(error.jobId, 2);
 * assert.equal((error.cause as Error).name, "RangeError");
 * ```
 */
export class BackgroundError extends Error {
  /** The id of the job that failed. */
  readonly jobId: number;
  /**
   * Creates the error.
   *
   * @param jobId The failed job's id.
   * @param cause The job's own error.
   */
  constructor(jobId: number, cause: unknown) {
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`Background job ${jobId} failed: ${reason}`, { cause });
    this.name = "BackgroundError";
    this.jobId = jobId;
  }
}

/**
 * Thrown by `Store.removeCallback` for an id that is not registered.
 *
 * @example Removing a callback twice
 * ```ts
 * import { KeyError, Store } from "@theta/theta/store";
 * import assert from "node:assert/strict";
 *
 * const store = new Store();
 * const id = store.addCallback("data", () => {});
 * store.removeCallback(id);
 * assert.throws(() => store.removeCallback(id), KeyError);
 * ```
 */
export class KeyError extends Error {
  /**
   * Creates the error.
   *
   * @param message Which key was missing.
   * @param options The `cause`, if any.
   */
  constructor(message = "Cannot find the key", options?: ErrorOptions) {
    super(message, options);
    this.name = "KeyError";
  }
}

/**
 * Thrown by a `CallQueue` call once the queue was closed by its owner, including to callers that
 * were waiting for a result the owner will never produce.
 *
 * @example Calling a closed queue
 * ```ts
 * import { CallQueue, CallQueueClosed } from "@theta/theta/callqueue";
 * import assert from "node:assert/strict";
 *
 * const calls = new CallQueue({ add: (a: number, b: number) => a + b });
 * calls.close();
 * assert.throws(() => calls.call("add", [1, 2], { wait: false }), CallQueueClosed);
 * ```
 */
export class CallQueueClosed extends Error {
  /**
   * Creates the error.
   *
   * @param message What was refused.
   * @param options The `cause`, if any.
   */
  constructor(message = "Cannot call as the call queue is closed", options?: ErrorOptions) {
    super(message, options);
    this.name = "CallQueueClosed";
  }
}

/**
 * Thrown by writing to a channel that was closed (by either end).
 *
 * @example Writing after close
 * ```ts
 * import { channel, ChannelClosed } from "@theta/theta/channel";
 * import assert from "node:assert/strict";
 *
 * const [writer] = channel<number>();
 * writer.close();
 * assert.throws(() => writer.write(1), ChannelClosed);
 * ```
 */
export class ChannelClosed extends Error {
  /**
   * Creates the error.
   *
   * @param message What was refused.
   * @param options The `cause`, if any.
   */
  constructor(message = "Cannot write as the channel is closed", options?: ErrorOptions) {
    super(message, options);
    this.name = "ChannelClosed";
  }
}

/**
 * Finds the constructor a revived error should have, by the `name` it had where it was thrown:
 * theta's own classes and the built-in ones. Unknown names revive as `Error` with that `name`.
 *
 * @param name The error's `name`.
 * @returns The class to give the revived error.
 */
export function errorClassByName(name: string): ErrorConstructor | undefined {
  switch (name) {
    case "QueueStopped":
      return QueueStopped as ErrorConstructor;
    case "QueueTimeout":
      return QueueTimeout as ErrorConstructor;
    case "QueueEmpty":
      return QueueEmpty as ErrorConstructor;
    case "QueueFull":
      return QueueFull as ErrorConstructor;
    case "PoolClosed":
      return PoolClosed as ErrorConstructor;
    case "WorkerCrashed":
      return WorkerCrashed as ErrorConstructor;
    case "BackgroundError":
      return BackgroundError as unknown as ErrorConstructor;
    case "KeyError":
      return KeyError as ErrorConstructor;
    case "CallQueueClosed":
      return CallQueueClosed as ErrorConstructor;
    case "ChannelClosed":
      return ChannelClosed as ErrorConstructor;
    case "TypeError":
      return TypeError;
    case "RangeError":
      return RangeError;
    case "SyntaxError":
      return SyntaxError;
    case "ReferenceError":
      return ReferenceError;
    case "EvalError":
      return EvalError;
    case "URIError":
      return URIError;
    case "AggregateError":
      return AggregateError as unknown as ErrorConstructor;
    default:
      return undefined;
  }
}
