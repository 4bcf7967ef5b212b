// Copyright theta authors. MIT license.
/**
 * Synchronisation primitives in shared memory, usable from any thread: `Event`, `Lock` and
 * `Semaphore`. Pass one to a `StoppableThread`, a `Pool` task or a `CallQueue` call and it arrives
 * as the same object; or send its `.handle` and rebuild it with `from(handle)`.
 *
 * Blocking methods (`wait`, `acquire`) use `Atomics.wait`, which Deno allows on the main thread
 * too; their async twins never block the event loop.
 *
 * @module
 */

import { SHAREABLE } from "./_codec.ts";
import {
  checkTimeout,
  deadlineOf,
  lock,
  lockAsync,
  remaining,
  tryLock,
  unlock,
  waitAsync,
  type WaitOptions,
  waitSync,
} from "./_futex.ts";
import { Shareables } from "./_shareable.ts";
import { HeldLocks } from "./_held.ts";
import { checkHandle, waitOptionsOf } from "./_checks.ts";

export type { WaitOptions } from "./_futex.ts";

/** The structured-cloneable description of an `Event`. */
export interface EventHandle {
  /** Always `"Event"`. */
  readonly kind: "Event";
  /** The flag word. */
  readonly state: SharedArrayBuffer;
}

/** The structured-cloneable description of a `Lock`. */
export interface LockHandle {
  /** Always `"Lock"`. */
  readonly kind: "Lock";
  /** The futex word. */
  readonly state: SharedArrayBuffer;
}

/** The structured-cloneable description of a `Semaphore`. */
export interface SemaphoreHandle {
  /** Always `"Semaphore"`. */
  readonly kind: "Semaphore";
  /** The permit count word. */
  readonly state: SharedArrayBuffer;
}

/**
 * A flag that threads can set, clear and wait for, like Python's `threading.Event`.
 *
 * @example Waking a waiter
 * ```ts
 * import { Event } from "@theta/theta/sync";
 * import assert from "node:assert/strict";
 *
 * const event = new Event();
 * assert.equal(event.wait(10), false); // timed out
 * setTimeout(() => event.set(), 10);
 * assert.equal(await event.waitAsync({ timeout: 5000 }), true);
 * assert.ok(event.isSet());
 * ```
 */
export class Event {
  static {
    Shareables.register("Event", (handle: EventHandle) => Event.from(handle));
  }

  /**
   * Rebuilds an event from its handle, in any thread: the same flag.
   *
   * @param handle An event's `handle`.
   * @returns The event.
   * @throws {TypeError} If `handle` is not an event handle.
   */
  static from(handle: EventHandle): Event {
    checkHandle(handle, "Event");
    Event.#reviving = handle;
    try {
      return new Event();
    } finally {
      Event.#reviving = undefined;
    }
  }
  static #reviving: EventHandle | undefined;

  readonly #handle: EventHandle;
  readonly #flag: Int32Array;

  /**
   * Creates a cleared event.
   */
  constructor() {
    this.#handle = Event.#reviving ?? { kind: "Event", state: new SharedArrayBuffer(4) };
    this.#flag = new Int32Array(this.#handle.state);
  }

  /** The structured-cloneable description of this event. */
  get handle(): EventHandle {
    return this.#handle;
  }

  /** @internal The handle, for the codec and argument revival. */
  get [SHAREABLE](): EventHandle {
    return this.#handle;
  }

  // The state word: bit 0 is the flag, the bits above it a generation that every set() bumps.
  //   clear -> set():   (gen << 1)     -> ((gen + 1) << 1) | 1, then notify all
  //   set   -> set():   (gen << 1) | 1 -> ((gen + 1) << 1) | 1 (a new generation; no one waits)
  //   set   -> clear(): (gen << 1) | 1 -> (gen << 1)
  // A waiter sleeps on the word it read: any set() changes the word, so the sleep returns, and a
  // changed generation means the event was set while it waited, even if cleared at once (as
  // CPython's Event). clear() alone never wakes a waiter for nothing: the word it sleeps on only
  // differs once a set() came.

  /** Sets the flag and wakes every waiter, in every thread. */
  set(): void {
    const flag = this.#flag;
    for (let word = Atomics.load(flag, 0);;) {
      const next = (((word >>> 1) + 1) << 1 | 1) | 0;
      const seen = Atomics.compareExchange(flag, 0, word, next);
      if (seen === word) break;
      word = seen;
    }
    Atomics.notify(flag, 0);
  }

  /** Clears the flag. */
  clear(): void {
    Atomics.and(this.#flag, 0, ~1);
  }

  /**
   * Whether the flag is set.
   *
   * @returns True if set.
   */
  isSet(): boolean {
    return (Atomics.load(this.#flag, 0) & 1) === 1;
  }

  /**
   * Blocks until the flag is set.
   *
   * @param timeout Milliseconds to wait at most; no limit if undefined.
   * @returns True if the flag was set at any moment while waiting, false on timeout.
   * @throws {RangeError} If `timeout` is negative.
   */
  wait(timeout?: number): boolean {
    checkTimeout(timeout);
    const deadline = deadlineOf(timeout);
    const start = Atomics.load(this.#flag, 0);
    if ((start & 1) === 1) return true;
    for (let word = start; word === start; word = Atomics.load(this.#flag, 0)) {
      const left = remaining(deadline);
      if (left === 0) return false;
      waitSync(this.#flag, 0, start, left);
    }
    return true; // the word changed: a set() came (clear() of a cleared flag changes nothing)
  }

  /**
   * Waits for the flag without blocking the event loop.
   *
   * @param options A timeout in ms, or `{ timeout, signal }`.
   * @returns True if the flag was set at any moment while waiting, false on timeout.
   * @throws {RangeError} If the timeout is negative.
   * @throws The signal's reason if it aborts.
   */
  async waitAsync(options?: number | WaitOptions): Promise<boolean> {
    const { timeout, signal } = waitOptionsOf(options);
    checkTimeout(timeout);
    signal?.throwIfAborted();
    const deadline = deadlineOf(timeout);
    const start = Atomics.load(this.#flag, 0);
    if ((start & 1) === 1) return true;
    for (let word = start; word === start; word = Atomics.load(this.#flag, 0)) {
      const left = remaining(deadline);
      if (left === 0) return false;
      await waitAsync(this.#flag, 0, start, left, signal);
    }
    return true;
  }
}

/**
 * A mutual-exclusion lock shared by threads. Not re-entrant, and not owned: any thread may
 * release it. A theta thread or pool worker that ends while it holds the lock (killed by a
 * timeout, an abort or `terminate()`, or closed) releases it as it ends; one still busy in
 * JavaScript after a kill keeps it until it returns (see the README's limits).
 *
 * @example Guarding a section with `using`
 * ```ts
 * import { Lock } from "@theta/theta/sync";
 * import assert from "node:assert/strict";
 *
 * const lock = new Lock();
 * {
 *   using _held = lock.hold();
 *   assert.equal(lock.acquire(0), false); // already held
 * }
 * assert.equal(lock.acquire(0), true);
 * lock.release();
 * ```
 */
export class Lock {
  static {
    Shareables.register("Lock", (handle: LockHandle) => Lock.from(handle));
  }

  /**
   * Rebuilds a lock from its handle, in any thread: the same lock.
   *
   * @param handle A lock's `handle`.
   * @returns The lock.
   * @throws {TypeError} If `handle` is not a lock handle.
   */
  static from(handle: LockHandle): Lock {
    checkHandle(handle, "Lock");
    Lock.#reviving = handle;
    try {
      return new Lock();
    } finally {
      Lock.#reviving = undefined;
    }
  }
  static #reviving: LockHandle | undefined;

  readonly #handle: LockHandle;
  readonly #word: Int32Array;

  /**
   * Creates an unlocked lock.
   */
  constructor() {
    // [0] the mutex, [1] the owner's thread token (see _held.ts).
    this.#handle = Lock.#reviving ?? { kind: "Lock", state: new SharedArrayBuffer(8) };
    this.#word = new Int32Array(this.#handle.state);
  }

  /** The structured-cloneable description of this lock. */
  get handle(): LockHandle {
    return this.#handle;
  }

  /** @internal The handle, for the codec and argument revival. */
  get [SHAREABLE](): LockHandle {
    return this.#handle;
  }

  /** Whether some thread holds the lock. */
  get locked(): boolean {
    return Atomics.load(this.#word, 0) !== 0;
  }

  /**
   * Takes the lock, blocking while another holder has it.
   *
   * @param timeout Milliseconds to wait at most; no limit if undefined; 0 to only try.
   * @returns True if taken, false on timeout.
   * @throws {RangeError} If `timeout` is negative.
   */
  acquire(timeout?: number): boolean {
    checkTimeout(timeout);
    const taken = timeout === 0 ? tryLock(this.#word, 0) : lock(this.#word, 0, timeout ?? Infinity);
    if (taken) HeldLocks.lockTaken(this.#word);
    return taken;
  }

  /**
   * Takes the lock without blocking the event loop.
   *
   * @param options A timeout in ms, or `{ timeout, signal }`.
   * @returns True if taken, false on timeout.
   * @throws The signal's reason if it aborts.
   */
  async acquireAsync(options?: number | WaitOptions): Promise<boolean> {
    const { timeout, signal } = waitOptionsOf(options);
    checkTimeout(timeout);
    const taken = await lockAsync(this.#word, 0, timeout ?? Infinity, signal);
    if (taken) HeldLocks.lockTaken(this.#word);
    return taken;
  }

  /**
   * Releases the lock and wakes one waiter.
   *
   * @throws {Error} If the lock is not held.
   */
  release(): void {
    if (Atomics.load(this.#word, 0) === 0) {
      throw new Error("Cannot release the lock as it is not held");
    }
    HeldLocks.lockReleased(this.#word);
    unlock(this.#word, 0);
  }

  /**
   * Takes the lock (blocking) and returns a `Disposable` that releases it, for `using`.
   *
   * @returns The disposable hold.
   */
  hold(): Disposable {
    this.acquire();
    return { [Symbol.dispose]: () => this.release() };
  }
}

/**
 * A counting semaphore shared by threads: `acquire` takes a permit, blocking while there is none;
 * `release` returns one.
 *
 * @example At most two holders
 * ```ts
 * import { Semaphore } from "@theta/theta/sync";
 * import assert from "node:assert/strict";
 *
 * const slots = new Semaphore(2);
 * assert.ok(slots.acquire());
 * assert.ok(slots.acquire());
 * assert.equal(slots.acquire(0), false);
 * slots.release();
 * assert.equal(slots.value, 1);
 * ```
 */
export class Semaphore {
  static {
    Shareables.register("Semaphore", (handle: SemaphoreHandle) => Semaphore.from(handle));
  }

  /**
   * Rebuilds a semaphore from its handle, in any thread: the same permits.
   *
   * @param handle A semaphore's `handle`.
   * @returns The semaphore.
   * @throws {TypeError} If `handle` is not a semaphore handle.
   */
  static from(handle: SemaphoreHandle): Semaphore {
    checkHandle(handle, "Semaphore");
    Semaphore.#reviving = handle;
    try {
      return new Semaphore(0);
    } finally {
      Semaphore.#reviving = undefined;
    }
  }
  static #reviving: SemaphoreHandle | undefined;

  readonly #handle: SemaphoreHandle;
  readonly #permits: Int32Array;

  /**
   * Creates a semaphore.
   *
   * @param permits Permits available at first.
   * @throws {RangeError} If `permits` is not a non-negative integer.
   */
  constructor(permits: number) {
    const handle = Semaphore.#reviving;
    if (!Number.isInteger(permits) || permits < 0 || permits > 0x7fffffff) {
      throw new RangeError(
        `Cannot create a semaphore as permits must be a non-negative integer: current value is ${permits}`,
      );
    }
    this.#handle = handle ?? { kind: "Semaphore", state: new SharedArrayBuffer(4) };
    this.#permits = new Int32Array(this.#handle.state);
    if (handle === undefined) this.#permits[0] = permits;
  }

  /** The structured-cloneable description of this semaphore. */
  get handle(): SemaphoreHandle {
    return this.#handle;
  }

  /** @internal The handle, for the codec and argument revival. */
  get [SHAREABLE](): SemaphoreHandle {
    return this.#handle;
  }

  /** Permits available now. */
  get value(): number {
    return Atomics.load(this.#permits, 0);
  }

  /** Takes a permit if one is free, without waiting. */
  #tryTake(): boolean {
    for (;;) {
      const current = Atomics.load(this.#permits, 0);
      if (current === 0) return false;
      if (Atomics.compareExchange(this.#permits, 0, current, current - 1) === current) return true;
    }
  }

  /**
   * Takes a permit, blocking while there is none.
   *
   * @param timeout Milliseconds to wait at most; no limit if undefined; 0 to only try.
   * @returns True if taken, false on timeout.
   * @throws {RangeError} If `timeout` is negative.
   */
  acquire(timeout?: number): boolean {
    checkTimeout(timeout);
    const deadline = deadlineOf(timeout);
    while (!this.#tryTake()) {
      const left = remaining(deadline);
      if (left === 0) return false;
      waitSync(this.#permits, 0, 0, left);
    }
    return true;
  }

  /**
   * Takes a permit without blocking the event loop.
   *
   * @param options A timeout in ms, or `{ timeout, signal }`.
   * @returns True if taken, false on timeout.
   * @throws The signal's reason if it aborts.
   */
  async acquireAsync(options?: number | WaitOptions): Promise<boolean> {
    const { timeout, signal } = waitOptionsOf(options);
    checkTimeout(timeout);
    signal?.throwIfAborted();
    const deadline = deadlineOf(timeout);
    while (!this.#tryTake()) {
      const left = remaining(deadline);
      if (left === 0) return false;
      await waitAsync(this.#permits, 0, 0, left, signal);
    }
    return true;
  }

  /**
   * Returns `count` permits and wakes as many waiters.
   *
   * @param count Permits to return.
   * @throws {RangeError} If `count` is not a positive integer.
   */
  release(count = 1): void {
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(
        `Cannot release the semaphore as count must be a positive integer: current value is ${count}`,
      );
    }
    Atomics.add(this.#permits, 0, count);
    Atomics.notify(this.#permits, 0, count);
  }

  /**
   * Takes a permit (blocking) and returns a `Disposable` that releases it, for `using`. A theta
   * thread or pool worker that ends while it has the hold gives the permit back as it ends
   * (permits taken with `acquire()` are not tracked: a semaphore may count signals).
   *
   * @returns The disposable hold.
   */
  hold(): Disposable {
    this.acquire();
    HeldLocks.permitTaken(this.#permits);
    return {
      [Symbol.dispose]: () => {
        HeldLocks.permitReturned(this.#permits);
        this.release();
      },
    };
  }
}
