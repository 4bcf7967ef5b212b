// Copyright theta authors. MIT license.
// What this thread holds of the user's shared locks, so that a thread that is killed gives them
// back instead of leaving every other thread blocked for good.
//
// A Lock's word pair: [0] the mutex state (0 free, 1 held, 2 held with waiters: see lock() in
// _futex.ts), [1] the owner: the token of the thread that took it, 0 once released. A thread
// records the locks it takes; when it ends (its worker is killed, closes or exits, see
// _worker/exit_hooks.ts) it releases those whose owner word still holds its token, and returns
// the semaphore permits it took with `hold()`. A lock another thread released meanwhile (any
// thread may release a Lock) has another owner or none, and is left alone.
//
// Owner word transitions:
//   0 -> token   the taking thread, right after the mutex is taken (acquire, acquireAsync, hold)
//   token -> 0   release(), by any thread, before the mutex is released; or the dying owner
//                (compare-exchange: only if it still owns it), then the mutex is released
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and import only bundled modules.

import { unlock } from "./_futex.ts";

/** The owner word's index in a Lock's Int32Array. */
export const LOCK_OWNER = 1;

/** The locks and semaphore holds of this thread. */
export class HeldLocks {
  /** This thread's token: random, nonzero, and different in every thread in practice. */
  static readonly token: number = (crypto.getRandomValues(new Int32Array(1))[0]! | 1);
  /** Locks this thread took, by their memory (one entry per lock, whatever object it came by). */
  static readonly locks: Map<SharedArrayBuffer, Int32Array> = new Map();
  /** Semaphore permits this thread took with `hold()` and has not given back. */
  static readonly permits: Map<SharedArrayBuffer, { word: Int32Array; count: number }> = new Map();

  /** Records a Lock this thread just took. */
  static lockTaken(word: Int32Array): void {
    Atomics.store(word, LOCK_OWNER, HeldLocks.token);
    HeldLocks.locks.set(word.buffer as SharedArrayBuffer, word);
  }

  /** Clears a Lock's owner before it is released (by this thread or another). */
  static lockReleased(word: Int32Array): void {
    Atomics.store(word, LOCK_OWNER, 0);
    HeldLocks.locks.delete(word.buffer as SharedArrayBuffer);
  }

  /** Records a semaphore permit this thread took with `hold()`. */
  static permitTaken(word: Int32Array): void {
    const key = word.buffer as SharedArrayBuffer;
    const entry = HeldLocks.permits.get(key);
    if (entry === undefined) HeldLocks.permits.set(key, { word, count: 1 });
    else entry.count++;
  }

  /** Records a `hold()` permit given back. */
  static permitReturned(word: Int32Array): void {
    const key = word.buffer as SharedArrayBuffer;
    const entry = HeldLocks.permits.get(key);
    if (entry === undefined) return;
    if (--entry.count === 0) HeldLocks.permits.delete(key);
  }

  /**
   * Gives back everything this thread still holds: the locks it still owns, and its `hold()`
   * permits. Called as the thread ends.
   *
   * @returns How many locks and permits were given back.
   */
  static releaseAll(): number {
    let released = 0;
    for (const word of HeldLocks.locks.values()) {
      if (Atomics.compareExchange(word, LOCK_OWNER, HeldLocks.token, 0) === HeldLocks.token) {
        unlock(word, 0);
        released++;
      }
    }
    HeldLocks.locks.clear();
    for (const { word, count } of HeldLocks.permits.values()) {
      Atomics.add(word, 0, count);
      Atomics.notify(word, 0, count);
      released += count;
    }
    HeldLocks.permits.clear();
    return released;
  }
}
