// Copyright theta authors. MIT license.
// The shareable protocol: SAB-backed classes expose `.handle` (a structured-cloneable plain
// object whose `kind` names the class) and a static `from(handle)`. Each class registers itself
// in a static block, so the registry fills the same way in the main thread and in the worker
// bundle. `toWire`/`fromWire` carry shareables inside postMessage'd argument lists: the one helper
// that thread.ts and pool.ts use to revive them on the other side.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported.

import { describeKind, SHAREABLE, UncloneableError, withPathSegment } from "./_codec.ts";

/** Every shareable's handle names its class. */
export interface ShareableHandle {
  readonly kind: string;
}

/** Property a wire marker carries its handle under. */
export const WIRE_MARK = "__theta_shareable__";

/** Classes that can be rebuilt from a handle, by kind. */
export class Shareables {
  static readonly kinds: Map<string, (handle: never) => unknown> = new Map();

  /** Registers `from` as the way to rebuild handles of `kind`. */
  static register(kind: string, from: (handle: never) => unknown): void {
    Shareables.kinds.set(kind, from);
  }

  /**
   * Rebuilds a live object from its handle.
   *
   * @throws {TypeError} If no class of that kind is loaded.
   */
  static revive(handle: ShareableHandle): unknown {
    const from = Shareables.kinds.get(handle.kind);
    if (from === undefined) {
      throw new TypeError(
        `Cannot revive a shared object as its kind is unknown: current value is ${handle.kind}`,
      );
    }
    return from(handle as never);
  }
}

/** True if `value` is a SAB-backed theta object. */
export function isShareable(value: unknown): value is { [SHAREABLE]: ShareableHandle } {
  return typeof value === "object" && value !== null &&
    (value as Record<symbol, unknown>)[SHAREABLE] !== undefined;
}

/**
 * Prepares a value for postMessage: shareables inside arrays and plain objects become markers
 * holding their handles (structured clone shares their memory), and values postMessage would
 * refuse fail now with a TypeError naming their path.
 *
 * @param value The value to send.
 * @param what How to name it in an error.
 * @returns A structured-cloneable value.
 * @throws {TypeError} If some part of it cannot be sent.
 */
export function toWire(value: unknown, what = "value"): unknown {
  try {
    return toWireInner(value);
  } catch (error) {
    if (error instanceof UncloneableError) throw error.finish(what);
    throw error;
  }
}

export function toWireInner(value: unknown): unknown {
  if (typeof value === "function" || typeof value === "symbol") {
    throw new UncloneableError(describeKind(value), false);
  }
  if (typeof value !== "object" || value === null) return value;
  if (isShareable(value)) return { [WIRE_MARK]: value[SHAREABLE] };
  if (Array.isArray(value)) {
    return value.map((item, i) => {
      try {
        return toWireInner(item);
      } catch (error) {
        return withPathSegment(error, i);
      }
    });
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    try {
      out[key] = toWireInner((value as Record<string, unknown>)[key]);
    } catch (error) {
      withPathSegment(error, key);
    }
  }
  return out;
}

/**
 * Revives the markers `toWire` left, in place.
 *
 * @param value A value received from postMessage.
 * @returns The value with live shareables.
 */
export function fromWire(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = fromWire(value[i]);
    return value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const record = value as Record<string, unknown>;
  const handle = record[WIRE_MARK];
  if (handle !== undefined) return Shareables.revive(handle as ShareableHandle);
  for (const key of Object.keys(record)) record[key] = fromWire(record[key]);
  return record;
}

/** Control blocks above this size are data, not wait words: they are not notified. */
export const WAKE_MAX_BYTES = 4096;

/**
 * Wakes every thread waiting on the shared memory of the shareables found in `value` (an
 * argument list), and on shared typed arrays found there: a spurious wake-up, which every theta
 * wait loop re-checks and sleeps again after. Called after terminating a worker, since `Worker.terminate()` does not interrupt a
 * thread blocked in Atomics.wait and such a thread keeps the process from exiting.
 */
export function wakeWaiters(value: unknown, seen: Set<unknown> = new Set()): void {
  if (typeof value !== "object" || value === null || seen.has(value)) return;
  seen.add(value);
  if (value instanceof SharedArrayBuffer) {
    if (!value.growable && value.byteLength <= WAKE_MAX_BYTES) {
      const words = new Int32Array(value, 0, value.byteLength >> 2);
      for (let i = 0; i < words.length; i++) Atomics.notify(words, i);
    }
    return;
  }
  if (isShareable(value)) {
    wakeWaiters(value[SHAREABLE], seen);
    return;
  }
  if (ArrayBuffer.isView(value)) {
    // A typed array over shared memory may be what a task blocks on with Atomics.wait: wake
    // every 4-byte-aligned word of its range (waiters are keyed by address, whatever the
    // array's element type).
    const buffer = value.buffer;
    if (!(buffer instanceof SharedArrayBuffer)) return;
    const start = value.byteOffset & ~3;
    const end = Math.min(value.byteOffset + value.byteLength, start + WAKE_MAX_BYTES);
    const count = Math.min((end - start + 3) >> 2, (buffer.byteLength - start) >> 2);
    const words = new Int32Array(buffer, start, count);
    for (let i = 0; i < words.length; i++) Atomics.notify(words, i);
    return;
  }
  const items = Array.isArray(value) ? value : Object.values(value);
  for (const item of items) wakeWaiters(item, seen);
}
