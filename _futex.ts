// Copyright theta authors. MIT license.
// Waiting and waking on Int32 words of shared memory, written once for every SAB-backed class.
//
// - `waitSync` blocks the thread (Atomics.wait; Deno allows it on the main thread too).
// - `waitAsync` never blocks. A pending Atomics.waitAsync does not keep Deno's event loop alive,
//   so every wait holds a timer while it is pending; an aborted wait notifies its word so that
//   the V8 waiter left behind is woken and removed instead of absorbing a later single notify.
// - The mutex is the classic three-state futex lock (0 free, 1 held, 2 held with waiters):
//   uncontended lock and unlock are one atomic operation each and never call into the kernel.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported.

import { SignalWatch } from "./_signal_watch.ts";

export type WaitResult = "ok" | "not-equal" | "timed-out";

/** Options of the async waits: a timeout and an abort signal. */
export interface WaitOptions {
  /**
   * Milliseconds to wait at most.
   *
   * @default {undefined} (no limit)
   */
  timeout?: number;
  /**
   * Aborts the wait; the promise rejects with the signal's reason.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** Busy-wait rounds before a contended mutex sleeps: critical sections are a few copies long. */
export const SPIN_ROUNDS = 100;

/**
 * Validates a timeout argument.
 *
 * @param timeout Milliseconds, or undefined for no limit.
 * @param what The argument's name, for the error.
 * @throws {RangeError} If it is negative or not a number.
 */
export function checkTimeout(timeout: number | undefined, what = "timeout"): void {
  if (timeout === undefined) return;
  if (typeof timeout !== "number" || Number.isNaN(timeout) || timeout < 0) {
    throw new RangeError(
      `Cannot wait as ${what} must be a non-negative number of milliseconds: current value is ${
        String(timeout)
      }`,
    );
  }
}

/** The absolute time (performance.now()) at which a wait of `timeout` ms ends. */
export function deadlineOf(timeout: number | undefined): number {
  return timeout === undefined ? Infinity : performance.now() + timeout;
}

/** Milliseconds left until `deadline`, never negative. */
export function remaining(deadline: number): number {
  return deadline === Infinity ? Infinity : Math.max(0, deadline - performance.now());
}

/**
 * The kill and critical-section words of the worker this code runs in, if it is a theta worker.
 *
 * `Worker.terminate()` in Deno does not end a thread blocked in Atomics.wait, and a wait loop
 * woken spuriously just sleeps again, so such a worker would never end (nor let the process
 * exit). Its owner sets the kill word and wakes the worker's waits; every blocking wait checks the
 * word and throws, unwinding to the runtime, which then closes the worker.
 *
 * `Worker.terminate()` may also stop a thread anywhere it calls a function, including inside a
 * ring's locked section, which would leave the lock held for good. So theta's internal locks are
 * taken with `criticalLock`, which counts the sections this thread is in on its critical word,
 * and the owner terminates a worker only once that count is 0 (`endWorker` in _spawn.ts). The
 * protocol, Dekker-style with sequentially consistent atomics:
 *
 *   worker, entering: crit += 1, then load kill; if set: crit -= 1 and throw (holding nothing)
 *   owner, ending:    store kill = 1, then load crit until 0, then terminate()
 *
 * Either the worker sees the kill and backs out, or the owner sees it inside and waits: a worker
 * is never terminated while it holds an internal lock. A wait for a lock does not throw on kill
 * (the holder leaves within microseconds); waits outside locks do.
 *
 * Before it is terminated, a worker gives back what it holds of the user's shared objects (Locks,
 * `hold()` permits, call-queue slots: see _held.ts): terminate() runs no `finally`. The kill word:
 *
 *   0 -> KILL_REQUESTED  owner: its waits throw from now on; a cancelled task may still clean up
 *   KILL_REQUESTED -> KILL_NOW   owner, after the grace, critical count 0: "give back, now"
 *   * -> KILL_DONE       worker: it gave back what it held (told to, or unwound to its end by
 *                        itself); the owner terminates it at once
 *
 * A worker still busy in JavaScript never answers; the owner terminates it after
 * CRITICAL_WAIT_MS anyway (which does not stop it: it keeps what it holds until it returns).
 */
export class Termination {
  static word: Int32Array | undefined;
  static crit: Int32Array | undefined;

  /** Installs this worker's kill word `words[kill]` and critical word `words[crit]`. */
  static install(words: Int32Array, kill: number, crit: number): void {
    Termination.word = new Int32Array(words.buffer, words.byteOffset + kill * 4, 1);
    Termination.crit = new Int32Array(words.buffer, words.byteOffset + crit * 4, 1);
  }

  /** Whether this worker is being terminated. */
  static requested(): boolean {
    const word = Termination.word;
    return word !== undefined && Atomics.load(word, 0) !== 0;
  }

  /** @throws {Error} If this worker is being terminated. */
  static check(): void {
    if (Termination.requested()) throw new Error("The worker was terminated while it waited");
  }

  /**
   * Enters an internal critical section (see the class comment).
   *
   * @throws {Error} If this worker is being terminated: then it holds nothing.
   */
  static enter(): void {
    const crit = Termination.crit;
    if (crit === undefined) return;
    Atomics.add(crit, 0, 1);
    if (Atomics.load(Termination.word!, 0) !== 0) {
      Atomics.sub(crit, 0, 1);
      throw new Error("The worker was terminated");
    }
  }

  /**
   * Enters an internal critical section although this worker is being terminated: only to give
   * back what a wait the kill interrupted held (a hand-off put's item, see _ring.ts), on the way
   * out. Safe: the owner terminates a worker only once its count is 0 and it answered KILL_DONE,
   * which it does after this section (`acknowledge` runs on the event loop, or at its end).
   */
  static enterAnyway(): void {
    const crit = Termination.crit;
    if (crit !== undefined) Atomics.add(crit, 0, 1);
  }

  /** Leaves an internal critical section. */
  static leave(): void {
    const crit = Termination.crit;
    if (crit !== undefined) Atomics.sub(crit, 0, 1);
  }

  /** Tells the owner this worker gave back what it held (if the owner is ending it). */
  static acknowledge(): void {
    const word = Termination.word;
    if (word === undefined || Atomics.load(word, 0) === 0) return;
    Atomics.store(word, 0, KILL_DONE);
    Atomics.notify(word, 0);
  }

  /**
   * Calls `giveBack` when the owner says it terminates this worker now (KILL_NOW): for a worker
   * whose event loop is idle then, with a task suspended in an await.
   */
  static async whenEnding(giveBack: () => void): Promise<void> {
    const word = Termination.word;
    if (word === undefined) return;
    for (;;) {
      const state = Atomics.load(word, 0);
      if (state === KILL_DONE) return;
      if (state === KILL_NOW) break;
      await waitAsync(word, 0, state, Infinity);
    }
    giveBack();
  }
}

/** Kill word: the owner ends this worker (its waits throw). */
export const KILL_REQUESTED = 1;
/** Kill word: the worker gave back what it held; terminate it. */
export const KILL_DONE = 2;
/** Kill word: the owner terminates the worker now: give back what you hold. */
export const KILL_NOW = 3;

/** Longest sleep of a blocking wait in a theta worker before it checks its kill word again. */
export const KILL_CHECK_MS = 50;

/**
 * Blocks while `i32[index] === expected`, for at most `timeout` ms. Every blocking wait in theta
 * goes through here. In a theta worker it sleeps in slices of at most KILL_CHECK_MS, so a kill
 * that lands between the check and the sleep (and whose wake-up came too early) is still seen.
 *
 * @returns "timed-out" only once the whole `timeout` passed.
 * @throws {Error} If this worker is being terminated (see Termination).
 */
export function waitSync(
  i32: Int32Array,
  index: number,
  expected: number,
  timeout: number,
): WaitResult {
  if (Termination.word === undefined) return Atomics.wait(i32, index, expected, timeout);
  const deadline = timeout === Infinity ? Infinity : performance.now() + timeout;
  for (;;) {
    Termination.check();
    const left = remaining(deadline);
    const result = Atomics.wait(i32, index, expected, Math.min(left, KILL_CHECK_MS));
    Termination.check();
    if (result !== "timed-out" || left <= KILL_CHECK_MS) return result;
  }
}

/**
 * Longest single V8 wait of a `waitAsync` under a signal, in ms. V8 keeps an aborted wait
 * registered until it is notified or times out, so such a wait re-arms in parts this long: an
 * aborted one is gone within this time, where on a word nobody notifies again it would stay
 * registered for good (one per aborted call).
 */
export const ABORTABLE_WAIT_MS = 1000;

/**
 * Waits without blocking while `i32[index] === expected`, for at most `timeout` ms.
 *
 * @returns How the wait ended.
 * @throws The signal's reason if `signal` aborts first.
 */
export function waitAsync(
  i32: Int32Array,
  index: number,
  expected: number,
  timeout: number,
  signal?: AbortSignal,
): Promise<WaitResult> {
  if (signal?.aborted) return Promise.reject(signal.reason); // a rejection, never a throw
  const deadline = deadlineOf(timeout); // before V8's wait starts: its timeout ends after it
  const part = signal === undefined ? timeout : Math.min(timeout, ABORTABLE_WAIT_MS);
  const first = Atomics.waitAsync(i32, index, expected, part);
  if (!first.async) return Promise.resolve(first.value);
  return new Promise<WaitResult>((resolve, reject) => {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(keepAlive);
      if (signal !== undefined) SignalWatch.calls.unwatch(signal, onAbort);
      return true;
    };
    // No other waiter is woken to flush this wait's V8 registration (waking every waiter on
    // the word made N waiters aborted one by one quadratic): it goes at its next notify, or
    // within ABORTABLE_WAIT_MS.
    const onAbort = (): void => {
      if (settle()) reject(signal!.reason);
    };
    // Deno does not count a pending Atomics.waitAsync as work: without a timer the event loop
    // may end, or never deliver the wake-up, even one notified from this thread. The timer
    // also ends finite waits should V8's own timeout be late.
    const keepAlive = timeout === Infinity ? holdOpen() : setTimeout(() => {
      if (settle()) resolve("timed-out");
    }, timeout + 1);
    // One listener per signal for all of this thread's waits (see SignalWatch).
    if (signal !== undefined) SignalWatch.calls.watch(signal, onAbort);
    const woken = (result: WaitResult): void => {
      if (settled) {
        // A wait ended early (aborted, or this timer fired before V8's) took a counted notify
        // meant for a waiter still waiting (notifies wake waiters in arrival order): hand it on.
        if (result === "ok") Atomics.notify(i32, index, 1);
        return;
      }
      const left = remaining(deadline);
      if (result === "timed-out" && signal !== undefined && left > 0) {
        // A part of a wait under a signal ended, not the wait.
        const next = Atomics.waitAsync(i32, index, expected, Math.min(left, ABORTABLE_WAIT_MS));
        if (next.async) next.value.then(woken);
        else if (settle()) resolve(next.value);
        return;
      }
      if (settle()) resolve(result);
    };
    first.value.then(woken);
  });
}

/** Wakes up to `count` threads waiting on `i32[index]`. */
export function notify(i32: Int32Array, index: number, count = Infinity): void {
  Atomics.notify(i32, index, count);
}

/** Tries to take the mutex at `i32[index]` without waiting. */
export function tryLock(i32: Int32Array, index: number): boolean {
  return Atomics.compareExchange(i32, index, 0, 1) === 0;
}

/**
 * The uncontended path of the mutex at `i32[index]`: one compare-exchange, then a short spin
 * (critical sections are a few copies long).
 *
 * @returns True if taken; false to go on to the sleeping path (exchange to 2, wait).
 */
export function spinLock(i32: Int32Array, index: number): boolean {
  if (Atomics.compareExchange(i32, index, 0, 1) === 0) return true;
  for (let i = 0; i < SPIN_ROUNDS; i++) {
    if (Atomics.load(i32, index) === 0 && Atomics.compareExchange(i32, index, 0, 1) === 0) {
      return true;
    }
  }
  return false;
}

/**
 * Takes the mutex at `i32[index]`, blocking for at most `timeout` ms.
 *
 * @returns True if taken, false on timeout.
 */
export function lock(i32: Int32Array, index: number, timeout = Infinity): boolean {
  if (spinLock(i32, index)) return true;
  const deadline = deadlineOf(timeout === Infinity ? undefined : timeout);
  while (Atomics.exchange(i32, index, 2) !== 0) {
    const left = remaining(deadline);
    if (left === 0) return false;
    waitSync(i32, index, 2, left);
  }
  return true;
}

/**
 * Takes the mutex at `i32[index]` without blocking the event loop.
 *
 * @returns True if taken, false on timeout.
 * @throws The signal's reason if `signal` aborts first.
 */
export async function lockAsync(
  i32: Int32Array,
  index: number,
  timeout = Infinity,
  signal?: AbortSignal,
): Promise<boolean> {
  signal?.throwIfAborted();
  if (Atomics.compareExchange(i32, index, 0, 1) === 0) return true;
  const deadline = deadlineOf(timeout === Infinity ? undefined : timeout);
  while (Atomics.exchange(i32, index, 2) !== 0) {
    const left = remaining(deadline);
    if (left === 0) return false;
    await waitAsync(i32, index, 2, left, signal);
  }
  return true;
}

/** Releases the mutex at `i32[index]`, waking one waiter if there are any. */
export function unlock(i32: Int32Array, index: number): void {
  if (Atomics.sub(i32, index, 1) !== 1) {
    Atomics.store(i32, index, 0);
    Atomics.notify(i32, index, 1);
  }
}

/**
 * Takes one of theta's internal locks (a ring's head or tail lock): a critical section of a few
 * copies, counted for the kill protocol (see Termination). Its wait never throws on kill.
 *
 * @throws {Error} If this worker is being terminated, before taking anything.
 */
export function criticalLock(i32: Int32Array, index: number): void {
  Termination.enter();
  takeLock(i32, index);
}

/**
 * `criticalLock` for a worker being terminated that gives back what an interrupted wait held
 * (see `Termination.enterAnyway`). Release it with `criticalUnlock`.
 */
export function criticalLockAnyway(i32: Int32Array, index: number): void {
  Termination.enterAnyway();
  takeLock(i32, index);
}

/** Takes the mutex at `i32[index]`, however long it takes (its holder is in a few copies). */
export function takeLock(i32: Int32Array, index: number): void {
  if (spinLock(i32, index)) return;
  while (Atomics.exchange(i32, index, 2) !== 0) Atomics.wait(i32, index, 2);
}

/** Releases an internal lock taken with `criticalLock`, leaving the critical section. */
export function criticalUnlock(i32: Int32Array, index: number): void {
  unlock(i32, index);
  Termination.leave();
}

/**
 * How long a thread about to sleep on the event loop first polls, in ms. A sleeping main thread
 * takes 10-40 us to wake (measured on a 2-core VM) while a peer usually answers in a few, so a
 * short poll saves most of a round trip's latency; it never holds the event loop longer.
 */
export const POLL_MS = 0.02;

/**
 * Polls `ready` for at most `ms` milliseconds.
 *
 * @returns True as soon as `ready()` is true; false if it stayed false.
 */
export function pollFor(ready: () => boolean, ms: number = POLL_MS): boolean {
  const until = performance.now() + ms;
  do {
    for (let i = 0; i < 32; i++) if (ready()) return true;
  } while (performance.now() < until);
  return false;
}

/**
 * How long a waiter that polled in vain keeps checking between event-loop turns before it sleeps
 * in `Atomics.waitAsync`, in ms. Deno delivers a waitAsync wake-up 100 us or more after the
 * notify, while yielding a turn costs about 3 us: checking between turns answers a reply that
 * comes a little late without that cost, and still lets other work run.
 */
export const YIELD_POLL_MS = 0.5;

/**
 * Yields to the event loop for one macrotask turn (a MessageChannel message: timers are clamped
 * to a millisecond). The channel is made on first use and must be closed after, since an open
 * port keeps the process alive.
 */
export class MacrotaskYielder {
  #channel: MessageChannel | undefined;
  #resume: (() => void) | undefined;

  /** Resolves after one event-loop turn. */
  next(): Promise<void> {
    if (this.#channel === undefined) {
      this.#channel = new MessageChannel();
      this.#channel.port1.onmessage = () => {
        const resume = this.#resume;
        this.#resume = undefined;
        resume?.();
      };
    }
    const channel = this.#channel;
    return new Promise<void>((resolve) => {
      this.#resume = resolve;
      channel.port2.postMessage(0);
    });
  }

  /** Closes the channel, if any. */
  close(): void {
    if (this.#channel === undefined) return;
    this.#channel.port1.close();
    this.#channel.port2.close();
    this.#channel = undefined;
    this.#resume?.();
    this.#resume = undefined;
  }
}

/**
 * Sleeps until `i32[index]` changes or `ms` pass, holding only an unref'd timer: a background
 * wait that never keeps the process alive (a CallQueue caller's background harvest, a task's cancel watch).
 */
export function nap(i32: Int32Array, index: number, value: number, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    unrefTimer(timer);
    const pending = Atomics.waitAsync(i32, index, value, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    if (pending.async) pending.value.then(done);
    else done();
  });
}

/**
 * A timer that holds this thread's event loop open until it is cleared (`clearInterval`), for
 * what the event loop does not count as work: a pending Atomics.waitAsync, or a promise that only
 * another thread or process settles.
 */
export function holdOpen(): ReturnType<typeof setInterval> {
  return setInterval(() => {}, HOLD_OPEN_MS);
}

/**
 * holdOpen's interval: the longest a timer can wait (about 24.8 days), so it never fires in
 * practice. An idle worker does not wait on its event loop for such a timer (_worker/idle.ts).
 */
export const HOLD_OPEN_MS = 0x7fffffff;

/** Keeps `timer` from holding the process alive (Deno.unrefTimer, where it exists). */
export function unrefTimer(timer: unknown): void {
  (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno?.unrefTimer?.(
    timer as number,
  );
}
