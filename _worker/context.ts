// Copyright theta authors. MIT license.
// The ThreadContext a thread's or periodic's target receives, in its worker.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and import only bundled modules.

import type { Event } from "../sync.ts";

/** The reason a thread's signal aborts with. */
export function stopReason(): DOMException {
  return new DOMException("The thread was asked to stop", "AbortError");
}

/** The `ThreadContext` a target receives, in its worker. */
export class WorkerContext {
  readonly stopEvent: Event;
  readonly name: string;
  #signal: AbortSignal | undefined;
  #watch: AbortController | undefined;

  constructor(stopEvent: Event, name: string) {
    this.stopEvent = stopEvent;
    this.name = name;
  }

  running(): boolean {
    return !this.stopEvent.isSet();
  }

  stopped(): boolean {
    return this.stopEvent.isSet();
  }

  wait(timeout?: number): boolean {
    return this.stopEvent.wait(timeout);
  }

  waitAsync(timeout?: number): Promise<boolean> {
    return this.stopEvent.waitAsync(timeout);
  }

  /** Aborts when stop is requested. Made on first use: watching the event holds a timer. */
  get signal(): AbortSignal {
    if (this.#signal !== undefined) return this.#signal;
    const controller = new AbortController();
    this.#signal = controller.signal;
    if (this.stopped()) {
      controller.abort(stopReason());
    } else {
      const watch = this.#watch = new AbortController();
      this.stopEvent.waitAsync({ signal: watch.signal }).then(
        () => controller.abort(stopReason()),
        () => {},
      );
    }
    return this.#signal;
  }

  /** Ends the signal's watch, so the worker can close. */
  dispose(): void {
    this.#watch?.abort();
  }
}
