// Copyright theta authors. MIT license.
// Lossless typed channels (GitPython async's Channel, ChannelWriter, ChannelReader) on the shared
// SAB ring, in its non-evicting mode: a full channel makes writers wait instead of dropping data.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and only functions, classes and primitives.

import { SHAREABLE } from "./_codec.ts";
import { QueueTimeout } from "./_errors.ts";
import { checkTimeout, deadlineOf, remaining } from "./_futex.ts";
import { ENDED, Ring, type RingHandle, TIMED_OUT } from "./_ring.ts";
import { Shareables } from "./_shareable.ts";
import type { WaitOptions } from "./_futex.ts";
import {
  checkCount,
  checkHandle,
  checkMaxBytes,
  checkPutStatus,
  MAX_RING_ITEMS,
  waitOptionsOf,
} from "./_checks.ts";

export { ChannelClosed, QueueTimeout } from "./_errors.ts";
export type { WaitOptions } from "./_futex.ts";

/** Options for {@linkcode channel}. */
export interface ChannelOptions {
  /**
   * Most items held at once; a writer waits while the channel is full. `0` makes an unbuffered
   * channel, as Go's `make(chan T)`: each write waits until a reader took its item (one that
   * times out, is aborted or sees the channel closed first takes its item back, so no reader
   * gets it).
   *
   * @default {1024}
   */
  size?: number;
  /**
   * Ceiling of the channel's byte storage, which grows as needed up to it.
   *
   * @default {67108864} (64 MiB)
   */
  maxBytes?: number;
}

/** Options for iterating a {@linkcode ChannelReader}. */
export interface ChannelValuesOptions {
  /**
   * Leave the channel open when the loop ends early (break, throw). By default an abandoned
   * loop closes the channel, as with a ReadableStream, so that upstream writers stop.
   *
   * @default {false}
   */
  preventCancel?: boolean;
  /**
   * Ends the iteration with the signal's reason.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** The structured-cloneable description of a channel end. */
export interface ChannelEndHandle {
  /** `"ChannelWriter"` or `"ChannelReader"`. */
  readonly kind: "ChannelWriter" | "ChannelReader";
  /** The shared ring. */
  readonly ring: RingHandle;
}

/**
 * Creates a bounded channel that never drops data (GitPython async's `mkchannel`).
 *
 * @typeParam T The items.
 * @param options The size.
 * @returns The write end and the read end. Both are shareable: pass them to threads and pool
 * tasks, or rebuild them with `ChannelWriter.from` / `ChannelReader.from`.
 * @throws {RangeError} If `size` is not an integer from 0 to 2^30 - 1.
 *
 * @example Reading in batches
 * ```ts
 * import { channel } from "@theta/theta/channel";
 * import assert from "node:assert/strict";
 *
 * const [writer, reader] = channel<number>({ size: 8 });
 * for (let i = 0; i < 5; i++) writer.write(i);
 * writer.close();
 * assert.deepEqual(reader.read(2), [0, 1]);
 * assert.deepEqual(reader.read(), [2, 3, 4]); // everything up to the close
 * assert.deepEqual(reader.read(), []);
 * ```
 *
 * @example An unbuffered channel: a write returns once a reader took the item
 * ```ts
 * import { channel, type ChannelWriter } from "@theta/theta/channel";
 * import { StoppableThread } from "@theta/theta/thread";
 * import assert from "node:assert/strict";
 *
 * const [writer, reader] = channel<string>({ size: 0 });
 * const ping = new StoppableThread((_thread, writer: ChannelWriter<string>) => {
 *   writer.write("ping"); // returns only after the main thread's read
 * }, { args: [writer] }).start();
 * assert.deepEqual(reader.read(1), ["ping"]);
 * await ping.join();
 * assert.throws(() => writer.write("pong", 10), { name: "QueueTimeout" }); // nobody read it
 * assert.equal(reader.length, 0); // taken back
 * ```
 */
export function channel<T>(options: ChannelOptions = {}): [ChannelWriter<T>, ChannelReader<T>] {
  const size = options.size ?? 1024;
  if (!Number.isInteger(size) || size < 0 || size > MAX_RING_ITEMS) {
    throw new RangeError(
      `Cannot create the channel as size must be an integer from 0 to ${MAX_RING_ITEMS}: current value is ${size}`,
    );
  }
  checkMaxBytes(options.maxBytes, "the channel");
  const ring = Ring.create({
    ...(size === 0 ? { handOff: true } : { maxItems: size }),
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
  }).handle;
  return [
    ChannelWriter.from<T>({ kind: "ChannelWriter", ring }),
    ChannelReader.from<T>({ kind: "ChannelReader", ring }),
  ];
}

/**
 * What both ends of a channel share: the handle, the item count and closing. Closing from either
 * end is allowed: writers then get `ChannelClosed`, readers drain what is left, then see the end
 * (how an abandoned pipeline stops its upstream stages).
 *
 * @example Closing from the reading side
 * ```ts
 * import { channel, ChannelClosed } from "@theta/theta/channel";
 * import assert from "node:assert/strict";
 *
 * const [writer, reader] = channel<number>();
 * assert.equal(writer.size, 1024);
 * writer.write(1);
 * assert.equal(reader.length, 1);
 * assert.equal(reader.close(), true);
 * assert.equal(writer.closed, true);
 * assert.throws(() => writer.write(2), ChannelClosed);
 * ```
 */
export abstract class ChannelEnd {
  readonly #ring: Ring;
  readonly #handle: ChannelEndHandle;

  /**
   * Made by the ends' constructors.
   *
   * @param ring The channel's ring.
   * @param handle This end's handle.
   */
  protected constructor(ring: Ring, handle: ChannelEndHandle) {
    this.#ring = ring;
    this.#handle = handle;
  }

  /** The structured-cloneable description of this end. */
  get handle(): ChannelEndHandle {
    return this.#handle;
  }

  /** @internal The handle, for argument revival. */
  get [SHAREABLE](): ChannelEndHandle {
    return this.#handle;
  }

  /** Items in the channel, not read yet (unbuffered: the item a writer is handing over, if any). */
  get length(): number {
    return this.#ring.length;
  }

  /** Most items the channel holds, as created (`0`: unbuffered, Go's `cap` of `make(chan T)`). */
  get size(): number {
    return this.#ring.handsOff ? 0 : this.#ring.maxItems;
  }

  /** Whether the channel was closed (items may still be left to read). */
  get closed(): boolean {
    return this.#ring.stopped;
  }

  /**
   * Closes the channel. Safe to call many times.
   *
   * @returns True if this call closed it.
   */
  close(): boolean {
    return this.#ring.stop();
  }

  /** Closes the channel. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * The write end of a channel. Writes wait while the channel is full; after `close()` (by any
 * holder of either end) they throw `ChannelClosed`.
 *
 * @typeParam T The items.
 *
 * @example Writing from a worker, reading on the main thread
 * ```ts
 * import { channel, type ChannelWriter } from "@theta/theta/channel";
 * import { StoppableThread } from "@theta/theta/thread";
 * import assert from "node:assert/strict";
 *
 * const [writer, reader] = channel<number>({ size: 4 });
 * const producer = new StoppableThread((_thread, writer: ChannelWriter<number>) => {
 *   for (let i = 0; i < 100; i++) writer.write(i); // waits while the channel is full
 *   writer.close();
 * }, { args: [writer] }).start();
 * let sum = 0;
 * for await (const item of reader) sum += item;
 * assert.equal(sum, 4950);
 * await producer.join();
 * ```
 */
export class ChannelWriter<T> extends ChannelEnd {
  static {
    Shareables.register("ChannelWriter", (handle: ChannelEndHandle) => ChannelWriter.from(handle));
  }

  /**
   * Rebuilds a write end from its handle, in any thread.
   *
   * @param handle A writer's `handle`.
   * @returns The writer.
   * @throws {TypeError} If `handle` is not a channel writer handle.
   */
  static from<T>(handle: ChannelEndHandle): ChannelWriter<T> {
    checkHandle(handle, "ChannelWriter");
    return new ChannelWriter<T>(new Ring(handle.ring), handle, undefined);
  }

  readonly #ring: Ring;
  readonly #handle: ChannelEndHandle;
  readonly #before: ((item: never) => unknown) | undefined;

  /** Made by `channel()`, `from()` and `before()`. */
  private constructor(
    ring: Ring,
    handle: ChannelEndHandle,
    before: ((item: never) => unknown) | undefined,
  ) {
    super(ring, handle);
    this.#ring = ring;
    this.#handle = handle;
    this.#before = before;
  }

  #prepare(item: T): unknown {
    return this.#before === undefined ? item : (this.#before as (item: T) => unknown)(item);
  }

  /**
   * Writes `item`, blocking (Atomics.wait) while the channel is full; in an unbuffered channel
   * (`size: 0`), until a reader took it.
   *
   * @param item The item.
   * @param options A timeout in ms, or `{ timeout }`.
   * @throws {ChannelClosed} If the channel is closed (in an unbuffered channel, also if it closes
   * before a reader took the item, which is then taken back).
   * @throws {QueueTimeout} If it stayed full for `timeout` ms (unbuffered: if no reader took
   * the item in that time; it is taken back).
   * @throws {TypeError} If the item cannot be sent (naming its path).
   */
  write(item: T, options?: number | WaitOptions): void {
    const { timeout } = waitOptionsOf(options);
    checkTimeout(timeout);
    checkPutStatus(this.#ring.put(this.#prepare(item), timeout, "item"), timeout);
  }

  /**
   * Writes `item`, waiting without blocking the event loop while the channel is full (in an
   * unbuffered channel, until a reader took it).
   *
   * @param item The item.
   * @param options A timeout in ms, or `{ timeout, signal }`.
   * @returns A promise that resolves once written (unbuffered: once read).
   * @throws Like `write`; the signal's reason if it aborts (unbuffered: the item is taken back,
   * unless a reader took it first, and then the promise resolves).
   */
  async writeAsync(item: T, options?: number | WaitOptions): Promise<void> {
    const { timeout, signal } = waitOptionsOf(options);
    checkTimeout(timeout);
    const status = await this.#ring.putAsync(this.#prepare(item), timeout, signal, "item");
    checkPutStatus(status, timeout);
  }

  /**
   * A writer of the same channel that converts each item with `fn` before writing it (the
   * seed's `CallbackWriterMixin.set_pre_cb`). The function stays in this thread.
   *
   * @param fn The conversion.
   * @returns The new writer.
   */
  before<U>(fn: (item: U) => T): ChannelWriter<U> {
    const outer = this.#before as ((item: T) => unknown) | undefined;
    const chained = outer === undefined ? fn : (item: U) => outer(fn(item));
    return new ChannelWriter<U>(this.#ring, this.#handle, chained as (item: never) => unknown);
  }

  /**
   * A WritableStream into this channel, with backpressure: a write resolves once the item is
   * in. Closing the stream closes the channel; aborting it closes the channel too.
   */
  get writable(): WritableStream<T> {
    return new WritableStream<T>({
      write: (item) => this.writeAsync(item),
      close: () => {
        this.close();
      },
      abort: () => {
        this.close();
      },
    }, { highWaterMark: 1 });
  }
}

/**
 * The read end of a channel. Reads wait for items; once the channel is closed they drain what is
 * left, then end. Iterate it with `for await` (an early exit closes the channel, stopping
 * upstream writers) or `for` (blocking, in workers), or read it as `readable`.
 *
 * @typeParam T The items.
 *
 * @example Transforming items as they are read
 * ```ts
 * import { channel } from "@theta/theta/channel";
 * import assert from "node:assert/strict";
 *
 * const [writer, reader] = channel<number>();
 * const doubled = reader.map((item) => item * 2);
 * writer.write(1);
 * writer.write(2);
 * writer.close();
 * assert.deepEqual(doubled.read(), [2, 4]);
 * ```
 */
export class ChannelReader<T> extends ChannelEnd implements AsyncIterable<T>, Iterable<T> {
  static {
    Shareables.register("ChannelReader", (handle: ChannelEndHandle) => ChannelReader.from(handle));
  }

  /**
   * Rebuilds a read end from its handle, in any thread.
   *
   * @param handle A reader's `handle`.
   * @returns The reader.
   * @throws {TypeError} If `handle` is not a channel reader handle.
   */
  static from<T>(handle: ChannelEndHandle): ChannelReader<T> {
    checkHandle(handle, "ChannelReader");
    return new ChannelReader<T>(new Ring(handle.ring), handle, undefined, undefined);
  }

  readonly #ring: Ring;
  readonly #handle: ChannelEndHandle;
  readonly #map: ((item: unknown) => unknown) | undefined;
  readonly #beforeRead: ((count: number) => void) | undefined;

  /** Made by `channel()`, `from()`, `map()` and `beforeRead()`. */
  private constructor(
    ring: Ring,
    handle: ChannelEndHandle,
    map: ((item: unknown) => unknown) | undefined,
    beforeRead: ((count: number) => void) | undefined,
  ) {
    super(ring, handle);
    this.#ring = ring;
    this.#handle = handle;
    this.#map = map;
    this.#beforeRead = beforeRead;
  }

  /**
   * Adds what a take returned to `items`.
   *
   * @returns True when the read is over (the channel ended, or the timeout expired after some
   * items came).
   * @throws {QueueTimeout} If the timeout expired before any item came.
   */
  #gather(items: T[], item: unknown, timeout: number | undefined): boolean {
    if (item === ENDED) return true;
    if (item === TIMED_OUT) {
      if (items.length > 0) return true;
      throw new QueueTimeout(`Cannot read as no item came within ${timeout} ms`);
    }
    items.push(this.#out(item));
    return false;
  }

  #out(item: unknown): T {
    return (this.#map === undefined ? item : this.#map(item)) as T;
  }

  /**
   * Reads up to `count` items, blocking (Atomics.wait) until there are that many (the seed's
   * `read(count, block, timeout)`).
   *
   * @param count How many; everything until the channel closes if undefined.
   * @param options A timeout in ms, or `{ timeout }`.
   * @returns The items, oldest first: fewer than `count` only once the channel is closed and
   * drained, or when the timeout expired after some items came (they are never dropped).
   * @throws {QueueTimeout} If the timeout expired before any item came.
   * @throws {RangeError} If `count` is not a positive integer.
   */
  read(count?: number, options?: number | WaitOptions): T[] {
    const { timeout } = waitOptionsOf(options);
    checkCount(count);
    checkTimeout(timeout);
    this.#beforeRead?.(count ?? Infinity);
    const deadline = deadlineOf(timeout);
    const items: T[] = [];
    while (count === undefined || items.length < count) {
      if (this.#gather(items, this.#ring.take(remaining(deadline)), timeout)) break;
    }
    return items;
  }

  /**
   * `read` without blocking the event loop.
   *
   * @param count How many; everything until the channel closes if undefined.
   * @param options A timeout in ms, or `{ timeout, signal }`.
   * @returns The items, as `read` returns them.
   * @throws Like `read`; the signal's reason if it aborts (items already taken are then lost to
   * this call, so abort only to give up on the channel).
   */
  async readAsync(count?: number, options?: number | WaitOptions): Promise<T[]> {
    const { timeout, signal } = waitOptionsOf(options);
    checkCount(count);
    checkTimeout(timeout);
    signal?.throwIfAborted();
    this.#beforeRead?.(count ?? Infinity);
    const deadline = deadlineOf(timeout);
    const items: T[] = [];
    while (count === undefined || items.length < count) {
      if (this.#gather(items, await this.#ring.takeAsync(remaining(deadline), signal), timeout)) {
        break;
      }
    }
    return items;
  }

  /**
   * A reader of the same channel that converts each item with `fn` as it is read (the seed's
   * callback reader). The function stays in this thread.
   *
   * @param fn The conversion.
   * @returns The new reader.
   */
  map<U>(fn: (item: T) => U): ChannelReader<U> {
    const inner = this.#map;
    const chained = inner === undefined ? fn : (item: unknown) => fn(inner(item) as T);
    return new ChannelReader<U>(
      this.#ring,
      this.#handle,
      chained as (item: unknown) => unknown,
      this.#beforeRead,
    );
  }

  /**
   * A reader of the same channel that calls `fn` with the count about to be read before each
   * `read` (the seed's `CallbackReaderMixin.set_pre_cb`; Infinity for "all"). Its errors
   * propagate to the reader.
   *
   * @param fn The callback.
   * @returns The new reader.
   */
  beforeRead(fn: (count: number) => void): ChannelReader<T> {
    return new ChannelReader<T>(this.#ring, this.#handle, this.#map, fn);
  }

  /**
   * Iterates the items until the channel closes, without blocking the event loop.
   *
   * @param options Whether an early exit leaves the channel open, and an abort signal.
   * @returns An async iterator.
   */
  async *values(options: ChannelValuesOptions = {}): AsyncGenerator<T, void, undefined> {
    const { signal, preventCancel = false } = options;
    signal?.throwIfAborted();
    let finished = false;
    try {
      for (;;) {
        const item = await this.#ring.takeAsync(undefined, signal);
        if (item === ENDED) break;
        yield this.#out(item);
      }
      finished = true;
    } finally {
      if (!finished && !preventCancel) this.close();
    }
  }

  /** Same as `values()`. */
  [Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    return this.values();
  }

  /** Iterates with blocking reads (for workers), until the channel closes. */
  *[Symbol.iterator](): Generator<T, void, undefined> {
    for (;;) {
      const item = this.#ring.take();
      if (item === ENDED) return;
      yield this.#out(item);
    }
  }

  /**
   * A ReadableStream of the items; cancelling it closes the channel.
   */
  get readable(): ReadableStream<T> {
    const cancelled = new AbortController();
    return new ReadableStream<T>({
      pull: async (controller) => {
        let item: unknown;
        try {
          item = await this.#ring.takeAsync(undefined, cancelled.signal);
        } catch (error) {
          if (cancelled.signal.aborted) return;
          throw error;
        }
        if (item === ENDED) controller.close();
        else controller.enqueue(this.#out(item));
      },
      cancel: () => {
        cancelled.abort();
        this.close();
      },
    }, { highWaterMark: 0 });
  }
}
