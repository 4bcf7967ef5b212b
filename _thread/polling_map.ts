// Copyright theta authors. MIT license.
// fandango's ThreadDict as PollingMap: values polled by a background worker.

import { WorkerCrashed } from "../_errors.ts";
import {
  epochNow,
  POLLING_CRIT,
  POLLING_KILL,
  POLLING_TERMINATION_BYTES,
  type PollingRequest,
  type PollingWorkerInit,
} from "./protocol.ts";
import { type Outcome, unpackOutcome } from "../_worker/outcome.ts";
import { endWorker, spawnWorker } from "../_spawn.ts";
import type { WorkerLike } from "../_node_thread.ts";
import { checkPeriod, targetSpecOf } from "./target.ts";

/** Options for {@linkcode PollingMap}. */
export interface PollingMapOptions<K, V> {
  /** Produces a key's value, in the background worker: a self-contained function or a module URL. */
  read: ((key: K) => V | Promise<V>) | URL | string;
  /**
   * Writes a key's value, in the same worker (so a module's state is shared with `read`).
   *
   * @default {undefined}
   */
  write?: ((key: K, value: V) => unknown) | URL | string;
  /**
   * The polling period of keys added without one, in ms.
   *
   * @default {1000}
   */
  period?: number;
  /**
   * Age in ms after which a polled value reads as `undefined`; no limit if undefined.
   *
   * @default {undefined}
   */
  expire?: number;
  /**
   * Called with errors thrown by polled reads.
   *
   * @default {console.error}
   */
  onError?: (error: unknown, key: K) => void;
}

interface PolledEntry<K, V> {
  key: K;
  value: V | undefined;
  /** When the value was read (epoch ms), or NaN before the first read. */
  time: number;
}

interface PendingRequest {
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

/**
 * A map whose values are produced by `read(key)`, polled in a background worker (fandango's
 * `ThreadDict`). `get` returns the latest polled value at once; `refresh` reads now; `set` calls
 * `write` in the same worker. For a module URL, a `#name` fragment picks the export, so `read`
 * and `write` can share one module's state: `new URL("./device.ts#read", import.meta.url)`.
 *
 * @typeParam K The keys (primitives compare by value).
 * @typeParam V The values.
 *
 * @example Polling a value
 * ```ts
 * import { PollingMap } from "@theta/theta/thread";
 * import assert from "node:assert/strict";
 *
 * await using map = new PollingMap<string, string>({
 *   read: (key: string) => `${key} read at ${Date.now()}`,
 *   period: 20,
 * });
 * map.poll("sensor");
 * assert.equal(map.get("sensor"), undefined); // not polled yet
 * assert.match(await map.refresh("sensor"), /^sensor read at \d+$/);
 * assert.match(map.get("sensor")!, /^sensor read at/);
 * ```
 */
export class PollingMap<K, V> {
  readonly #termination: Int32Array = new Int32Array(
    new SharedArrayBuffer(POLLING_TERMINATION_BYTES),
  );
  readonly #worker: WorkerLike;
  readonly #ids: Map<K, number> = new Map();
  readonly #entries: Map<number, PolledEntry<K, V>> = new Map();
  readonly #pending: Map<number, PendingRequest> = new Map();
  readonly #listeners: Set<(key: K, value: V) => void> = new Set();
  readonly #period: number;
  readonly #expire: number | undefined;
  readonly #onError: (error: unknown, key: K) => void;
  #nextId = 1;
  #nextRequest = 1;
  #closed = false;

  /**
   * Creates the map and its worker.
   *
   * @param options The read function and the rest.
   * @throws {TypeError} If `read` or `write` is not a function or URL.
   * @throws {RangeError} If `period` or `expire` is not a positive finite number.
   */
  constructor(options: PollingMapOptions<K, V>) {
    this.#period = options.period ?? 1000;
    checkPeriod(this.#period, "the period");
    if (options.expire !== undefined) checkPeriod(options.expire, "expire");
    this.#expire = options.expire;
    this.#onError = options.onError ?? ((error) => console.error(error));
    const init: PollingWorkerInit = {
      role: "polling",
      termination: this.#termination.buffer as SharedArrayBuffer,
      read: targetSpecOf(options.read, undefined, "read"),
      write: options.write === undefined
        ? undefined
        : targetSpecOf(options.write, undefined, "write"),
    };
    this.#worker = spawnWorker(init, "theta-polling-map", "a PollingMap");
    this.#worker.onmessage = (event: MessageEvent) => this.#onMessage(event.data);
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#shutdown(new WorkerCrashed(`The PollingMap's worker died: ${event.message}`));
    };
  }

  #send(message: PollingRequest): void {
    this.#worker.postMessage(message);
  }

  #onMessage(
    data:
      | { kind: "value"; id: number; outcome: Outcome; time: number }
      | { kind: "reply"; request: number; id?: number; outcome: Outcome; time?: number }
      | { kind: "exited" },
  ): void {
    if (data.kind === "exited") {
      this.#shutdown(new WorkerCrashed("The PollingMap's read or write closed its worker"));
      return;
    }
    const { ok, value } = unpackOutcome(data.outcome);
    if (data.kind === "value") {
      const entry = this.#entries.get(data.id);
      if (entry === undefined) return;
      if (ok) this.#update(entry, value as V, data.time);
      else this.#onError(value, entry.key);
      return;
    }
    const pending = this.#pending.get(data.request);
    this.#pending.delete(data.request);
    if (ok && data.id !== undefined) {
      const entry = this.#entries.get(data.id);
      if (entry !== undefined) this.#update(entry, value as V, data.time!);
    }
    if (ok) pending?.resolve(value);
    else pending?.reject(value);
  }

  #update(entry: PolledEntry<K, V>, value: V, time: number): void {
    if (time < entry.time) return; // an older read finishing late
    entry.value = value;
    entry.time = time;
    for (const listener of this.#listeners) {
      try {
        listener(entry.key, value);
      } catch (error) {
        console.error(error);
      }
    }
  }

  #checkOpen(what: string): void {
    if (this.#closed) throw new TypeError(`Cannot ${what} as the PollingMap is closed`);
  }

  #request(message: PollingRequest): Promise<unknown> {
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.#pending.set((message as { request: number }).request, { resolve, reject });
    this.#send(message);
    return promise;
  }

  /**
   * Adds `key` to the polled keys (seed: `append(key, period)`), or changes its period. The
   * first read is due at once.
   *
   * @param key The key.
   * @param period Its polling period in ms; the map's period if undefined.
   * @throws {RangeError} If `period` is not a positive finite number.
   * @throws {TypeError} If the map is closed.
   */
  poll(key: K, period: number = this.#period): void {
    this.#checkOpen("poll a key");
    checkPeriod(period, "the period");
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = this.#nextId++;
      this.#ids.set(key, id);
      this.#entries.set(id, { key, value: undefined, time: NaN });
    }
    this.#send({ kind: "poll", id, key, period });
  }

  /**
   * Stops polling `key` and forgets its value.
   *
   * @param key The key.
   * @returns True if it was polled.
   */
  unpoll(key: K): boolean {
    const id = this.#ids.get(key);
    if (id === undefined) return false;
    this.#ids.delete(key);
    this.#entries.delete(id);
    if (!this.#closed) this.#send({ kind: "unpoll", id });
    return true;
  }

  /**
   * The latest polled value of `key`, at once.
   *
   * @param key The key.
   * @returns The value; undefined before its first read, when older than `expire`, or for a key
   * not polled.
   */
  get(key: K): V | undefined {
    const id = this.#ids.get(key);
    const entry = id === undefined ? undefined : this.#entries.get(id);
    if (entry === undefined || Number.isNaN(entry.time)) return undefined;
    if (this.#expire !== undefined && epochNow() - entry.time > this.#expire) return undefined;
    return entry.value;
  }

  /**
   * Reads `key` now, in the worker; a polled key's cached value is updated too.
   *
   * @param key The key (polled or not).
   * @returns The value read.
   * @throws The read's error; `TypeError` if the map is closed.
   */
  refresh(key: K): Promise<V> {
    this.#checkOpen("refresh a key");
    const request = this.#nextRequest++;
    return this.#request({ kind: "refresh", id: this.#ids.get(key) ?? 0, key, request }) as Promise<
      V
    >;
  }

  /**
   * Writes `value` for `key` through `write`, in the worker.
   *
   * @param key The key.
   * @param value The value.
   * @returns What `write` returned.
   * @throws The write's error; `TypeError` if there is no `write` or the map is closed.
   */
  set(key: K, value: V): Promise<unknown> {
    this.#checkOpen("set a value");
    const request = this.#nextRequest++;
    return this.#request({ kind: "set", key, value, request });
  }

  /**
   * Whether `key` is polled.
   *
   * @param key The key.
   * @returns True if polled.
   */
  has(key: K): boolean {
    return this.#ids.has(key);
  }

  /**
   * The polled keys.
   *
   * @returns An iterator over them.
   */
  keys(): IterableIterator<K> {
    return this.#ids.keys();
  }

  /**
   * The polled keys with their current values (as `get` returns them).
   *
   * @returns An iterator of `[key, value]`.
   */
  *entries(): IterableIterator<[K, V | undefined]> {
    for (const key of [...this.#ids.keys()]) yield [key, this.get(key)];
  }

  /** How many keys are polled. */
  get size(): number {
    return this.#ids.size;
  }

  /**
   * Calls `listener` with each new value, polled or refreshed.
   *
   * @param listener Called with the key and its value.
   * @returns A function that removes the listener.
   */
  onUpdate(listener: (key: K, value: V) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #shutdown(reason: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    const words = this.#termination;
    endWorker(
      this.#worker,
      words.subarray(POLLING_KILL, POLLING_KILL + 1),
      words.subarray(POLLING_CRIT, POLLING_CRIT + 1),
    );
    for (const pending of this.#pending.values()) pending.reject(reason);
    this.#pending.clear();
  }

  /**
   * Stops polling and ends the worker; pending `refresh` and `set` calls reject.
   *
   * @returns A promise that resolves once closed.
   */
  close(): Promise<void> {
    this.#shutdown(new TypeError("Cannot finish the request as the PollingMap was closed"));
    return Promise.resolve();
  }

  /** Closes the map. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
