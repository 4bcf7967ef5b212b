// Copyright theta authors. MIT license.
// Abort signals watched for many things at once (a pool's jobs, the async waits of one thread):
// one listener per signal, whatever the number of watchers.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported.

/** The items one signal watches for, and its listener. */
interface Watch<T> {
  readonly items: Set<T>;
  readonly listener: () => void;
}

/**
 * Calls `onAbort` with the items watching a signal when that signal aborts (in the order they
 * started watching). A signal gets one "abort" listener while any item watches it: an
 * EventTarget removes a listener by scanning its list, so a listener per job made a burst of
 * 20000 jobs under one signal quadratic (0.8 s against 25 ms without a signal), and so were
 * thousands of async waits under one signal.
 */
export class SignalWatch<T> {
  static #calls: SignalWatch<() => void> | undefined;

  /**
   * This thread's watch whose items are functions, each called when its signal aborts (theta's
   * async waits). A static, not a module-level object: this module is part of the worker bundle
   * (see _bundle.ts).
   */
  static get calls(): SignalWatch<() => void> {
    return SignalWatch.#calls ??= new SignalWatch((calls) => {
      for (const call of calls) call();
    });
  }

  readonly #watches = new Map<AbortSignal, Watch<T>>();
  readonly #onAbort: (items: ReadonlySet<T>, reason: unknown) => void;

  constructor(onAbort: (items: ReadonlySet<T>, reason: unknown) => void) {
    this.#onAbort = onAbort;
  }

  /** `item` watches `signal` (not aborted yet) until `unwatch`. */
  watch(signal: AbortSignal, item: T): void {
    let watch = this.#watches.get(signal);
    if (watch === undefined) {
      watch = { items: new Set(), listener: () => this.#aborted(signal) };
      this.#watches.set(signal, watch);
      signal.addEventListener("abort", watch.listener, { once: true });
    }
    watch.items.add(item);
  }

  /** `item` no longer watches `signal`; the listener goes with the last item. */
  unwatch(signal: AbortSignal, item: T): void {
    const watch = this.#watches.get(signal);
    if (watch === undefined || !watch.items.delete(item) || watch.items.size > 0) return;
    this.#watches.delete(signal);
    signal.removeEventListener("abort", watch.listener);
  }

  #aborted(signal: AbortSignal): void {
    const watch = this.#watches.get(signal);
    if (watch === undefined) return;
    // Forgotten first: onAbort unwatches the items, which then finds nothing to do (and the set
    // it iterates does not change under it).
    this.#watches.delete(signal);
    this.#onAbort(watch.items, signal.reason);
  }
}
