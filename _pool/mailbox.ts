// Copyright theta authors. MIT license.
// The pairing of ring records with postMessage payloads, written once for both directions: a
// worker pairs REQUEST_BY_MESSAGE requests with their ArgsMessage, the pool pairs
// REPLY_BY_MESSAGE replies with their ResultMessage (see protocol.ts). The ring record and the
// message travel separately, so either may arrive first.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and import only bundled modules.

/** Values that arrive by postMessage, by task id, for whoever asks for them. */
export class Mailbox {
  readonly #arrived: Map<number, unknown> = new Map();
  readonly #waiting: Map<number, (value: unknown) => void> = new Map();
  readonly #discarded: Set<number> = new Set();

  /** Hands `value` to the receiver of `id`, now or when it asks. */
  deliver(id: number, value: unknown): void {
    if (this.#discarded.delete(id)) return;
    const waiter = this.#waiting.get(id);
    if (waiter === undefined) {
      this.#arrived.set(id, value);
    } else {
      this.#waiting.delete(id);
      waiter(value);
    }
  }

  /** Drops the value of `id`, arrived or still to come (a task that will not run or finish). */
  discard(id: number): void {
    this.#waiting.delete(id);
    if (!this.#arrived.delete(id)) this.#discarded.add(id);
  }

  /** The value of `id`, once it has arrived. */
  receive(id: number): Promise<unknown> {
    if (this.#arrived.has(id)) {
      const value = this.#arrived.get(id);
      this.#arrived.delete(id);
      return Promise.resolve(value);
    }
    return new Promise((resolve) => this.#waiting.set(id, resolve));
  }

  /** Values arrived and not yet received, and receivers still waiting (for tests and leaks). */
  get size(): number {
    return this.#arrived.size + this.#waiting.size;
  }
}
