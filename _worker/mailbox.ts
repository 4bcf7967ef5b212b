// Copyright theta authors. MIT license.
// Values that reach a worker by postMessage, paired with the ring records that announce them.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and import only bundled modules.

/** Arguments and values that arrive by postMessage, by task id. */
export class Mailbox {
  static readonly arrived: Map<number, unknown> = new Map();
  static readonly waiting: Map<number, (value: unknown) => void> = new Map();
  static readonly discarded: Set<number> = new Set();

  static deliver(id: number, value: unknown): void {
    if (Mailbox.discarded.delete(id)) return;
    const waiter = Mailbox.waiting.get(id);
    if (waiter === undefined) {
      Mailbox.arrived.set(id, value);
    } else {
      Mailbox.waiting.delete(id);
      waiter(value);
    }
  }

  /** Drops the message of a task that will not run (cancelled before it started). */
  static discard(id: number): void {
    if (!Mailbox.arrived.delete(id)) Mailbox.discarded.add(id);
  }

  static receive(id: number): Promise<unknown> {
    if (Mailbox.arrived.has(id)) {
      const value = Mailbox.arrived.get(id);
      Mailbox.arrived.delete(id);
      return Promise.resolve(value);
    }
    return new Promise((resolve) => Mailbox.waiting.set(id, resolve));
  }
}
