// Copyright theta authors. MIT license.
// theta's Store: callbacks fired on written values, run through an executor.

import { KeyError } from "./_errors.ts";
import { type Executor, LocalExecutor, type Task } from "./pool.ts";

export { KeyError } from "./_errors.ts";

/** A key of a `Store`: a primitive, or an array of primitives, compared by value. */
export type StoreKey =
  | string
  | number
  | bigint
  | boolean
  | null
  | undefined
  | readonly (string | number | bigint | boolean | null | undefined)[];

/**
 * A callback: called with each value written under its key. With a `Pool` as executor it runs in
 * a worker, so it must be self-contained, or the name of an export of the pool's module.
 */
// deno-lint-ignore no-explicit-any
export type StoreCallback = Task<[value: any], unknown> | string;

/** Options for {@linkcode Store}. */
export interface StoreOptions {
  /**
   * Called when a callback throws (its promise then resolves `undefined`).
   *
   * @default {console.error of the error, key and callback id}
   */
  onError?: (error: unknown, key: StoreKey, id: string) => void;
}

/** Options for {@linkcode Store.prototype.watch}. */
export interface WatchOptions {
  /**
   * Ends the iteration, rejecting its pending read with the signal's reason.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

function primitiveId(value: unknown, what: string): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Object.is(value, -0) ? "0" : String(value); // as Map keys: -0 equals 0
    case "bigint":
      return `${value}n`;
    case "boolean":
    case "undefined":
      return String(value);
    case "object":
      if (value === null) return "null";
  }
  throw new TypeError(
    `Cannot use ${what} as a store key: keys are primitives or arrays of primitives, current value is ${
      typeof value === "object" ? Object.prototype.toString.call(value) : typeof value
    }`,
  );
}

/** The canonical text of a key: equal keys, by value, have equal ids. */
function keyId(key: StoreKey): string {
  if (Array.isArray(key)) {
    return `[${key.map((item, i) => primitiveId(item, `key[${i}]`)).join(",")}]`;
  }
  return primitiveId(key, "the key");
}

interface Registration {
  readonly id: string;
  readonly key: StoreKey;
  readonly callback: StoreCallback;
  /** The end of this callback's chain of writes: each write runs after the previous one. */
  tail: Promise<unknown>;
}

interface Watcher {
  readonly values: unknown[];
  wake: (() => void) | undefined;
}

/**
 * Writes values under one key of a {@linkcode Store}, firing the key's callbacks.
 *
 * @example Waiting for the callbacks of a write
 * ```ts
 * import { Store } from "@theta/theta/store";
 * import assert from "node:assert/strict";
 *
 * const store = new Store();
 * store.addCallback("key", (value: string) => value.toUpperCase());
 * const writer = store.writer("key");
 * assert.equal(writer.key, "key");
 * assert.deepEqual(await Promise.all(writer.write("value")), ["VALUE"]);
 * ```
 */
export class Writer {
  /** The key this writer writes under. */
  readonly key: StoreKey;
  readonly #submit: (value: unknown) => Promise<unknown>[];

  /**
   * Creates a writer; `store.writer(key)` is the usual way.
   *
   * @param key The key.
   * @param submit Writes a value and returns the callbacks' promises.
   */
  constructor(key: StoreKey, submit: (value: unknown) => Promise<unknown>[]) {
    this.key = key;
    this.#submit = submit;
  }

  /**
   * Stores `value` and submits every callback of the key to the executor. Non-blocking.
   *
   * @param value The value.
   * @returns One promise per callback registered now, with its return value; a callback that
   * threw resolves `undefined` (the error goes to the store's `onError`).
   */
  write(value: unknown): Promise<unknown>[] {
    return this.#submit(value);
  }
}

/**
 * Data with callbacks (theta's `Store`): register callbacks on a key, and each value written
 * under it is handed to every callback through an executor. A `LocalExecutor` (the default) runs
 * closures on this event loop; a `Pool` runs them in workers.
 *
 * Each callback sees its key's writes in write order, even on a concurrent executor, and a
 * callback that throws never rejects: its error goes to `onError`, since an unhandled rejection
 * would end the process.
 *
 * @example The theta seed's example
 * ```ts
 * import { Store } from "@theta/theta/store";
 * import assert from "node:assert/strict";
 *
 * const store = new Store();
 * const q: number[] = []; // q holds a queue of data
 * const d = { value: null as number | null }; // d holds the most recent value
 * const qId = store.addCallback("data", (value: number) => q.push(value));
 * store.addCallback("data", (value: number) => (d.value = value));
 * const writer = store.writer("data");
 * const pending: Promise<unknown>[] = [];
 * for (let i = 0; i < 5; i++) pending.push(...writer.write(i));
 * store.removeCallback(qId);
 * pending.push(...writer.write(5)); // 5 only reaches the unnamed callback
 * await Promise.all(pending);
 * assert.deepEqual(q, [0, 1, 2, 3, 4]);
 * assert.deepEqual(d, { value: 5 });
 * assert.equal(store.get("data"), 5);
 * ```
 */
export class Store {
  readonly #executor: Executor;
  readonly #onError: (error: unknown, key: StoreKey, id: string) => void;
  readonly #callbacks: Map<string, Registration> = new Map();
  readonly #byKey: Map<string, Set<Registration>> = new Map();
  readonly #values: Map<string, unknown> = new Map();
  readonly #watchers: Map<string, Set<Watcher>> = new Map();

  /**
   * Creates a store.
   *
   * @param executor Runs the callbacks.
   * @param options The error handler.
   * @throws {TypeError} If `executor` has no `submit` method.
   */
  constructor(executor: Executor = new LocalExecutor(), options: StoreOptions = {}) {
    if (typeof executor?.submit !== "function") {
      throw new TypeError(
        "Cannot create the store as its executor has no submit method: pass a Pool or LocalExecutor",
      );
    }
    this.#executor = executor;
    this.#onError = options.onError ??
      ((error, key, id) => console.error(`Store callback ${id} for key ${String(key)}:`, error));
  }

  /**
   * Registers `f` to be called with each value written under `key` from now on.
   *
   * @param key A primitive or an array of primitives.
   * @param f The callback, or an export name of the pool's module.
   * @returns The callback's id, for `removeCallback`.
   * @throws {TypeError} If `key` is not a valid key, or `f` not a function or name.
   */
  addCallback(key: StoreKey, f: StoreCallback): string {
    const keyText = keyId(key);
    if (typeof f !== "function" && typeof f !== "string") {
      throw new TypeError(
        `Cannot add the callback as it must be a function or a task name: current value is ${typeof f}`,
      );
    }
    const registration: Registration = {
      id: crypto.randomUUID(),
      key,
      callback: f,
      tail: Promise.resolve(),
    };
    this.#callbacks.set(registration.id, registration);
    let set = this.#byKey.get(keyText);
    if (set === undefined) this.#byKey.set(keyText, set = new Set());
    set.add(registration);
    return registration.id;
  }

  /**
   * Removes a callback; writes already made still reach it.
   *
   * @param id The id `addCallback` returned.
   * @throws {KeyError} If no callback has that id.
   */
  removeCallback(id: string): void {
    const registration = this.#callbacks.get(id);
    if (registration === undefined) {
      throw new KeyError(
        `Cannot remove the callback as no callback has the id: current value is ${id}`,
      );
    }
    this.#callbacks.delete(id);
    const keyText = keyId(registration.key);
    const set = this.#byKey.get(keyText)!;
    set.delete(registration);
    if (set.size === 0) this.#byKey.delete(keyText);
  }

  /**
   * A writer for `key`.
   *
   * @param key A primitive or an array of primitives.
   * @returns The writer.
   * @throws {TypeError} If `key` is not a valid key.
   */
  writer(key: StoreKey): Writer {
    const keyText = keyId(key);
    return new Writer(key, (value) => this.#write(keyText, value));
  }

  /**
   * The latest value written under `key`.
   *
   * @param key A primitive or an array of primitives.
   * @returns The value, or undefined if none was written.
   * @throws {TypeError} If `key` is not a valid key.
   */
  get(key: StoreKey): unknown {
    return this.#values.get(keyId(key));
  }

  /**
   * The values written under `key` after this call, as they are written. Break out of the loop
   * (or abort) to stop watching.
   *
   * @param key A primitive or an array of primitives.
   * @param options An abort signal.
   * @returns An async iterator of values.
   * @throws {TypeError} If `key` is not a valid key.
   * @throws The signal's reason, from the iteration, once it aborts.
   *
   * @example Watching a key
   * ```ts
   * import { Store } from "@theta/theta/store";
   * import assert from "node:assert/strict";
   *
   * const store = new Store();
   * const values = store.watch("temperature");
   * const writer = store.writer("temperature");
   * writer.write(20);
   * writer.write(21);
   * const seen: unknown[] = [];
   * for await (const value of values) {
   *   seen.push(value);
   *   if (seen.length === 2) break;
   * }
   * assert.deepEqual(seen, [20, 21]);
   * ```
   */
  watch(key: StoreKey, options: WatchOptions = {}): AsyncIterableIterator<unknown> {
    const keyText = keyId(key);
    const { signal } = options;
    signal?.throwIfAborted();
    const watcher: Watcher = { values: [], wake: undefined };
    let set = this.#watchers.get(keyText);
    if (set === undefined) this.#watchers.set(keyText, set = new Set());
    set.add(watcher);
    const unwatch = (): void => {
      set.delete(watcher);
      if (set.size === 0 && this.#watchers.get(keyText) === set) this.#watchers.delete(keyText);
    };
    const onAbort = (): void => watcher.wake?.();
    signal?.addEventListener("abort", onAbort, { once: true });
    return (async function* (): AsyncGenerator<unknown> {
      try {
        for (;;) {
          while (watcher.values.length > 0) yield watcher.values.shift();
          signal?.throwIfAborted();
          await new Promise<void>((resolve) => (watcher.wake = resolve));
          watcher.wake = undefined;
          signal?.throwIfAborted();
        }
      } finally {
        signal?.removeEventListener("abort", onAbort);
        unwatch();
      }
    })();
  }

  #write(keyText: string, value: unknown): Promise<unknown>[] {
    this.#values.set(keyText, value);
    for (const watcher of this.#watchers.get(keyText) ?? []) {
      watcher.values.push(value);
      watcher.wake?.();
    }
    const registrations = this.#byKey.get(keyText);
    if (registrations === undefined) return [];
    return [...registrations].map((registration) => this.#submit(registration, value));
  }

  /** Runs one callback on one value, after its previous writes; never rejects. */
  #submit(registration: Registration, value: unknown): Promise<unknown> {
    const run = async (): Promise<unknown> => {
      try {
        return await this.#executor.submit(registration.callback, value);
      } catch (error) {
        try {
          this.#onError(error, registration.key, registration.id);
        } catch (handlerError) {
          console.error(handlerError);
        }
        return undefined;
      }
    };
    const result = registration.tail.then(run);
    registration.tail = result;
    return result;
  }
}
