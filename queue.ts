// Copyright theta authors. MIT license.
/**
 * `EvictingQueue`: a thread-safe FIFO in shared memory with blocking gets and evicting,
 * non-blocking puts (the theta seed's queue). Any number of producers and consumers, on any
 * threads: pass the queue to a `StoppableThread` or a `Pool` task, or send its `.handle` and
 * rebuild it with `EvictingQueue.from(handle)`.
 *
 * @module
 */

import { SHAREABLE } from "./_codec.ts";
import { checkTimeout } from "./_futex.ts";
import {
  ENDED,
  isNumberArray,
  NOTHING,
  PUT_STOPPED,
  PUT_TOO_LARGE,
  Ring,
  type RingHandle,
  TIMED_OUT,
} from "./_ring.ts";
import { Shareables } from "./_shareable.ts";
import { QueueEmpty, QueueFull, QueueStopped, QueueTimeout } from "./_errors.ts";
import type { WaitOptions } from "./_futex.ts";
import {
  checkCount,
  checkHandle,
  checkMaxBytes,
  MAX_RING_ITEMS,
  waitOptionsOf,
} from "./_checks.ts";

export { QueueEmpty, QueueFull, QueueStopped, QueueTimeout } from "./_errors.ts";
export type { WaitOptions } from "./_futex.ts";

/** Options of `new EvictingQueue`. */
export interface EvictingQueueOptions {
  /**
   * Ceiling of the queue's byte storage, which grows as needed up to it. Past it, an unbounded
   * queue's `put` throws `QueueFull` and a bounded one evicts.
   *
   * @default {67108864} (64 MiB)
   */
  maxBytes?: number;
}

/** The structured-cloneable description of an `EvictingQueue`. */
export interface EvictingQueueHandle {
  /** Always `"EvictingQueue"`. */
  readonly kind: "EvictingQueue";
  /** The shared ring. */
  readonly ring: RingHandle;
}

/** Counters of an `EvictingQueue`, shared by every thread that holds it. */
export interface QueueStats {
  /** Items put. */
  puts: number;
  /** Items taken by `get`, iteration and `flush`. */
  gets: number;
  /** Items dropped to make room. */
  evicted: number;
}

/** Largest byte storage a queue can be given. */

/**
 * Thread-safe FIFO queue with blocking gets and evicting, non-blocking puts.
 *
 * `size` bounds the item count: a `put` on a full queue drops the oldest item. Without `size` the
 * queue is unbounded. After `stop()`, gets still return what is left, then throw `QueueStopped`,
 * and every waiter in every thread wakes.
 *
 * @example Keeping the newest five
 * ```ts
 * import { EvictingQueue } from "@theta/theta/queue";
 * import assert from "node:assert/strict";
 *
 * const queue = new EvictingQueue<number>(5);
 * for (let i = 0; i < 8; i++) queue.put(i);
 * assert.equal(queue.get(), 3); // 0, 1 and 2 were evicted
 * assert.deepEqual(queue.flush(), [4, 5, 6, 7]);
 * assert.equal(queue.stats.evicted, 3);
 * ```
 *
 * @example Handling timeouts and stopping separately
 * ```ts
 * import { EvictingQueue, QueueStopped, QueueTimeout } from "@theta/theta/queue";
 * import assert from "node:assert/strict";
 *
 * const queue = new EvictingQueue<string>();
 * queue.put("item");
 * const seen: string[] = [];
 * for (let round = 0; round < 5; round++) {
 *   try {
 *     seen.push(queue.get(10));
 *   } catch (error) {
 *     if (error instanceof QueueTimeout) {
 *       seen.push("timeout");
 *       queue.stop();
 *     } else if (error instanceof QueueStopped) {
 *       seen.push("stopped");
 *       break;
 *     } else throw error;
 *   }
 * }
 * assert.deepEqual(seen, ["item", "timeout", "stopped"]);
 * ```
 */
export class EvictingQueue<T> implements Iterable<T>, AsyncIterable<T>, Disposable {
  static {
    Shareables.register(
      "EvictingQueue",
      (handle: EvictingQueueHandle) => EvictingQueue.from(handle),
    );
  }
  static #reviving: EvictingQueueHandle | undefined;

  /**
   * Rebuilds a queue from its handle, in any thread: the same items, the same waiters.
   *
   * @param handle A queue's `handle`.
   * @returns The queue.
   * @throws {TypeError} If `handle` is not a queue handle.
   *
   * @example Sending a queue's handle to a worker
   * ```ts
   * import { EvictingQueue } from "@theta/theta/queue";
   * import assert from "node:assert/strict";
   *
   * const queue = new EvictingQueue<number>(10);
   * const again = EvictingQueue.from(structuredClone(queue.handle));
   * again.put(42);
   * assert.equal(queue.get(), 42);
   * ```
   */
  static from<T>(handle: EvictingQueueHandle): EvictingQueue<T> {
    checkHandle(handle, "EvictingQueue");
    EvictingQueue.#reviving = handle;
    try {
      return new EvictingQueue<T>();
    } finally {
      EvictingQueue.#reviving = undefined;
    }
  }

  readonly #handle: EvictingQueueHandle;
  readonly #ring: Ring;
  readonly #evicting: boolean;

  /**
   * Creates a queue.
   *
   * @param size Most items held; a `put` beyond it evicts the oldest. Unbounded if undefined.
   * @param options Byte storage ceiling.
   * @throws {RangeError} If `size` is not a positive integer, or `maxBytes` is out of range.
   */
  constructor(size?: number, options: EvictingQueueOptions = {}) {
    const reviving = EvictingQueue.#reviving;
    if (reviving !== undefined) {
      this.#handle = reviving;
      this.#ring = new Ring(reviving.ring);
      this.#evicting = this.#ring.maxItems > 0;
      return;
    }
    if (size !== undefined && (!Number.isInteger(size) || size < 1 || size > MAX_RING_ITEMS)) {
      throw new RangeError(
        `Cannot create the queue as size must be an integer from 1 to ${MAX_RING_ITEMS}, or undefined: current value is ${size}`,
      );
    }
    const maxBytes = options.maxBytes;
    checkMaxBytes(maxBytes, "the queue");
    this.#ring = Ring.create({
      maxItems: size ?? 0,
      ...(maxBytes !== undefined ? { maxBytes } : {}),
      writersNeverWait: true, // put evicts, or throws QueueFull
    });
    this.#handle = { kind: "EvictingQueue", ring: this.#ring.handle };
    this.#evicting = size !== undefined;
  }

  /** The structured-cloneable description of this queue, for `EvictingQueue.from`. */
  get handle(): EvictingQueueHandle {
    return this.#handle;
  }

  /** @internal The handle, for the codec and argument revival. */
  get [SHAREABLE](): EvictingQueueHandle {
    return this.#handle;
  }

  /** Items in the queue now. */
  get length(): number {
    return this.#ring.length;
  }

  /** The most items the queue holds, or `undefined` if unbounded. */
  get size(): number | undefined {
    return this.#evicting ? this.#ring.maxItems : undefined;
  }

  /** Counters shared by every thread: puts, gets and evictions. */
  get stats(): QueueStats {
    return this.#ring.stats;
  }

  /**
   * Adds an item, evicting the oldest if the queue is full. Never blocks.
   *
   * @param value Any structured-cloneable value.
   * @throws {QueueStopped} If the queue was stopped.
   * @throws {QueueFull} If the item does not fit in `maxBytes` (unbounded queues: once the
   * storage is exhausted).
   * @throws {TypeError} If the value cannot cross threads; nothing is enqueued.
   */
  put(value: T): void {
    const status = this.#ring.tryPut(value, this.#evicting, "value");
    if (status === PUT_STOPPED) {
      throw new QueueStopped("Cannot put the item as the queue is stopped");
    }
    if (status === PUT_TOO_LARGE) {
      throw new QueueFull("Cannot put the item as it is larger than the queue's maxBytes");
    }
    if (status !== 0) {
      throw new QueueFull(
        "Cannot put the item as the unbounded queue's storage reached maxBytes: consume faster or raise maxBytes",
      );
    }
  }

  /**
   * Adds items in order, evicting the oldest as needed (bounded queues): one lock hold and one
   * wake-up for the whole batch. Never blocks. Every item is checked first: one that cannot
   * cross threads adds none. Runs of numbers are stored as blocks of float64s (8 bytes a number),
   * and a typed array of numbers (`Float64Array`, `Int32Array`, ...) is copied in one step.
   *
   * @param values The items.
   * @throws {QueueStopped} If the queue was stopped (none added).
   * @throws {QueueFull} If an item does not fit in `maxBytes`: the items before it were added.
   * @throws {TypeError} If an item cannot cross threads, naming it; none added.
   *
   * @example A batch in, a batch out
   * ```ts
   * import { EvictingQueue } from "@theta/theta/queue";
   * import assert from "node:assert/strict";
   *
   * const queue = new EvictingQueue<number>(4);
   * queue.putMany([1, 2, 3, 4, 5, 6]); // evicts 1 and 2
   * assert.deepEqual(queue.getMany(3), [3, 4, 5]);
   * assert.deepEqual(queue.getMany(10), [6]);
   * ```
   */
  putMany(values: Iterable<T>): void {
    const items = Array.isArray(values) || isNumberArray(values) ? values : [...values];
    const { added, status } = this.#ring.tryPutMany(items, this.#evicting, "values");
    if (status === PUT_STOPPED) {
      throw new QueueStopped("Cannot put the items as the queue is stopped");
    }
    if (status !== 0) {
      throw new QueueFull(
        `Cannot put item ${added} of ${items.length} as it does not fit in the queue's maxBytes: the ${added} before it were added`,
      );
    }
  }

  /**
   * Removes up to `count` items, oldest first, blocking until there is at least one: one lock
   * hold and one wake-up for the whole batch.
   *
   * @param count Most items to return.
   * @param timeout Milliseconds to wait at most for the first item; no limit if undefined.
   * @returns Between 1 and `count` items.
   * @throws {QueueTimeout} If no item arrived in time.
   * @throws {QueueStopped} If the queue is stopped and drained.
   * @throws {RangeError} If `count` is not a positive integer or `timeout` is negative.
   */
  getMany(count: number, timeout?: number): T[] {
    checkCount(count, "get items");
    checkTimeout(timeout);
    return this.#result(this.#ring.takeBatch(count, timeout), timeout) as unknown as T[];
  }

  /**
   * `getMany` without blocking the event loop.
   *
   * @param count Most items to return.
   * @param options A timeout in ms, or `{ timeout, signal }`.
   * @returns Between 1 and `count` items.
   * @throws Like `getMany`, and the signal's reason if it aborts.
   */
  async getManyAsync(count: number, options?: number | WaitOptions): Promise<T[]> {
    checkCount(count, "get items");
    const { timeout, signal } = waitOptionsOf(options);
    checkTimeout(timeout);
    const result = await this.#ring.takeBatchAsync(count, timeout, signal);
    return this.#result(result, timeout) as unknown as T[];
  }

  /**
   * Removes and returns the oldest item, blocking until there is one.
   *
   * @param timeout Milliseconds to wait at most; no limit if undefined.
   * @returns The oldest item.
   * @throws {QueueTimeout} If no item arrived in time.
   * @throws {QueueStopped} If the queue is stopped and drained.
   * @throws {RangeError} If `timeout` is negative.
   */
  get(timeout?: number): T {
    checkTimeout(timeout);
    return this.#result(this.#ring.take(timeout), timeout);
  }

  /**
   * Removes and returns the oldest item without blocking the event loop.
   *
   * @param options A timeout in ms, or `{ timeout, signal }`.
   * @returns The oldest item.
   * @throws {QueueTimeout} If no item arrived in time.
   * @throws {QueueStopped} If the queue is stopped and drained.
   * @throws The signal's reason if it aborts.
   *
   * @example Awaiting an item
   * ```ts
   * import { EvictingQueue } from "@theta/theta/queue";
   * import assert from "node:assert/strict";
   *
   * const queue = new EvictingQueue<string>();
   * setTimeout(() => queue.put("hello"), 10);
   * assert.equal(await queue.getAsync({ timeout: 5000 }), "hello");
   * ```
   */
  async getAsync(options?: number | WaitOptions): Promise<T> {
    const { timeout, signal } = waitOptionsOf(options);
    checkTimeout(timeout);
    return this.#result(await this.#ring.takeAsync(timeout, signal), timeout);
  }

  #result(result: unknown, timeout: number | undefined): T {
    if (result === ENDED) {
      throw new QueueStopped("Cannot get an item as the queue is stopped and empty");
    }
    if (result === TIMED_OUT) {
      throw new QueueTimeout(`Cannot get an item as none arrived within ${timeout} ms`);
    }
    return result as T;
  }

  /**
   * The newest item, left in the queue.
   *
   * @returns The newest item.
   * @throws {QueueEmpty} If the queue is empty.
   */
  peek(): T {
    return this.#peeked(this.#ring.peek(true));
  }

  /**
   * The oldest item, left in the queue.
   *
   * @returns The oldest item.
   * @throws {QueueEmpty} If the queue is empty.
   */
  peekLeft(): T {
    return this.#peeked(this.#ring.peek(false));
  }

  #peeked(result: unknown): T {
    if (result === NOTHING) throw new QueueEmpty("Cannot peek as the queue is empty");
    return result as T;
  }

  /**
   * Removes and returns every item now in the queue, oldest first: the queue as a buffer.
   *
   * @returns The items (empty if none).
   *
   * @example Flushing a buffer on demand
   * ```ts
   * import { EvictingQueue } from "@theta/theta/queue";
   * import assert from "node:assert/strict";
   *
   * const queue = new EvictingQueue<number>();
   * queue.put(1);
   * queue.put(2);
   * assert.deepEqual(queue.flush(), [1, 2]);
   * assert.deepEqual(queue.flush(), []);
   * ```
   */
  flush(): T[] {
    return this.#ring.takeMany() as T[];
  }

  /**
   * Whether the queue is empty now.
   *
   * @returns True if empty.
   */
  empty(): boolean {
    return this.#ring.length === 0;
  }

  /** Flags the queue stopped, in every thread, and wakes every waiter. Idempotent. */
  stop(): void {
    this.#ring.stop();
  }

  /**
   * Whether the queue was stopped.
   *
   * @returns True once `stop()` was called by any thread.
   */
  stopped(): boolean {
    return this.#ring.stopped;
  }

  /** Stops the queue, for `using`. */
  [Symbol.dispose](): void {
    this.stop();
  }

  /**
   * Iterates items as they arrive, blocking between them; ends once the queue is stopped and
   * drained.
   *
   * @returns A blocking iterator.
   */
  *[Symbol.iterator](): Generator<T, void, undefined> {
    for (;;) {
      const result = this.#ring.take();
      if (result === ENDED) return;
      yield result as T;
    }
  }

  /**
   * Iterates items as they arrive without blocking the event loop; ends once the queue is
   * stopped and drained.
   *
   * @returns An async iterator.
   *
   * @example Consuming with for await
   * ```ts
   * import { EvictingQueue } from "@theta/theta/queue";
   * import assert from "node:assert/strict";
   *
   * const queue = new EvictingQueue<number>();
   * setTimeout(() => {
   *   queue.put(1);
   *   queue.put(2);
   *   queue.stop();
   * }, 10);
   * const items: number[] = [];
   * for await (const item of queue) items.push(item);
   * assert.deepEqual(items, [1, 2]);
   * ```
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      const result = await this.#ring.takeAsync();
      if (result === ENDED) return;
      yield result as T;
    }
  }

  /**
   * Iterates items as they arrive, blocking between them; ends once the queue is stopped and
   * drained, or after `timeout` ms without a new item.
   *
   * @param timeout Milliseconds to wait for each item; no limit if undefined.
   * @returns A blocking iterator.
   * @throws {RangeError} If `timeout` is negative.
   *
   * @example Ending after a quiet spell
   * ```ts
   * import { EvictingQueue } from "@theta/theta/queue";
   * import assert from "node:assert/strict";
   *
   * const queue = new EvictingQueue<number>();
   * queue.put(1);
   * queue.put(2);
   * const items = [...queue.iterTimeout(20)]; // ends 20 ms after the last item
   * assert.deepEqual(items, [1, 2]);
   * ```
   */
  iterTimeout(timeout?: number): Generator<T, void, undefined> {
    checkTimeout(timeout);
    const ring = this.#ring;
    return (function* (): Generator<T, void, undefined> {
      for (;;) {
        const result = ring.take(timeout);
        if (result === ENDED || result === TIMED_OUT) return;
        yield result as T;
      }
    })();
  }
}
