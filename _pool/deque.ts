// Copyright theta authors. MIT license.
// The pool's job lists: the queue of jobs waiting for a worker, and each worker's jobs in order.

import { LIST_KEEP_MAX } from "../_codec.ts";

/** Slots of a new or given-back ring (a power of two, as every size it grows to). */
const INITIAL_SLOTS = 16;

/**
 * A double-ended queue on a ring: O(1) push, shift and look-up by position, and its storage kept
 * from one use to the next. A worker's job list loses its first job once per task; an array
 * would move every other job down each time (`splice`, `copyWithin`: O(depth) per task, and the
 * emptying splice frees the storage that the next push allocates again).
 */
export class Deque<T> {
  /** The ring: `#length` items from `#head`, wrapping; every other slot is undefined. */
  #items: (T | undefined)[] = new Array<T | undefined>(INITIAL_SLOTS).fill(undefined);
  /** `#items.length - 1` (the length is a power of two). */
  #mask = INITIAL_SLOTS - 1;
  #head = 0;
  #length = 0;

  /** Items in the queue. */
  get length(): number {
    return this.#length;
  }

  /** Adds `item` at the back. */
  push(item: T): void {
    if (this.#length === this.#items.length) this.#grow(this.#length + 1);
    this.#items[(this.#head + this.#length) & this.#mask] = item;
    this.#length++;
  }

  /** The front item, left in place. */
  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  /** The item at `index` from the front (from the back if negative), left in place. */
  at(index: number): T | undefined {
    if (index < 0) index += this.#length;
    if (index < 0 || index >= this.#length) return undefined;
    return this.#items[(this.#head + index) & this.#mask];
  }

  /** Where `item` is, from the front; -1 if it is not here. */
  indexOf(item: T): number {
    const items = this.#items;
    for (let i = 0; i < this.#length; i++) {
      if (items[(this.#head + i) & this.#mask] === item) return i;
    }
    return -1;
  }

  /** Removes and returns the front item. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    if (--this.#length === 0) this.#emptied();
    return item;
  }

  /** Puts items back at the front, in order (jobs taken back from a worker). */
  unshift(items: readonly T[]): void {
    if (this.#length + items.length > this.#items.length) {
      this.#grow(this.#length + items.length);
    }
    for (let i = items.length - 1; i >= 0; i--) {
      this.#head = (this.#head - 1) & this.#mask;
      this.#items[this.#head] = items[i];
    }
    this.#length += items.length;
  }

  /** Removes `item` wherever it is: O(1) at the front, else O(n) (a cancelled task: rare). */
  remove(item: T): boolean {
    const index = this.indexOf(item);
    if (index < 0) return false;
    if (index === 0) {
      this.shift();
      return true;
    }
    const items = this.#items;
    const mask = this.#mask;
    const last = this.#length - 1;
    for (let i = index; i < last; i++) {
      items[(this.#head + i) & mask] = items[(this.#head + i + 1) & mask];
    }
    items[(this.#head + last) & mask] = undefined;
    this.#length = last; // at least one left: the item at the front
    return true;
  }

  /** The items, front first, in a new array. */
  toArray(): T[] {
    const out = new Array<T>(this.#length);
    for (let i = 0; i < this.#length; i++) out[i] = this.#items[(this.#head + i) & this.#mask]!;
    return out;
  }

  /** Removes and returns every item. */
  drain(): T[] {
    const items = this.toArray();
    this.#items.fill(undefined);
    this.#length = 0;
    this.#emptied(); // the head back to 0, and a grown ring given back
    return items;
  }

  /**
   * Copies the items, front first, into a ring of at least `needed` slots: the ring rotated so
   * that its head is at 0 (the slots past the items hold undefined), by `slice` and `concat`
   * rather than a loop, which V8 compiled (on-stack replacement, ~11 ms of compiler time) inside
   * the first burst that queued thousands of jobs.
   */
  #grow(needed: number): void {
    let slots = this.#items.length * 2;
    while (slots < needed) slots *= 2;
    const old = this.#items;
    const items = old.slice(this.#head).concat(old.slice(0, this.#head));
    items.length = slots;
    items.fill(undefined, this.#length);
    this.#items = items;
    this.#mask = slots - 1;
    this.#head = 0;
  }

  /** Empty: a ring grown past LIST_KEEP_MAX (a burst queued) is given back, not kept for good. */
  #emptied(): void {
    this.#head = 0;
    if (this.#items.length <= LIST_KEEP_MAX) return;
    this.#items = new Array<T | undefined>(INITIAL_SLOTS).fill(undefined);
    this.#mask = INITIAL_SLOTS - 1;
  }
}
