// Copyright theta authors. MIT license.
// Argument and status checks shared by the public modules.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and only functions, classes and primitives.

import { ChannelClosed, QueueTimeout } from "./_errors.ts";
import {
  MAX_RING_BYTES,
  PUT_DONE,
  PUT_NOT_TAKEN,
  PUT_STOPPED,
  PUT_TIMED_OUT,
  PUT_TOO_LARGE,
} from "./_ring.ts";
import type { WaitOptions } from "./_futex.ts";

/** Accepts `timeout` or `{ timeout, signal }`, the two ways async waits are called. */
export function waitOptionsOf(options: number | WaitOptions | undefined): WaitOptions {
  return typeof options === "number" ? { timeout: options } : options ?? {};
}

/** Checks that `handle` is a handle of `kind`, for the static `from` methods. */
export function checkHandle(handle: unknown, kind: string): void {
  const ok = typeof handle === "object" && handle !== null &&
    (handle as { kind?: unknown }).kind === kind;
  if (!ok) {
    throw new TypeError(
      `Cannot rebuild a ${kind} as the handle is not one: current value is ${
        JSON.stringify((handle as { kind?: unknown })?.kind)
      }`,
    );
  }
}

/** Throws the channel's error for a put status that is not PUT_DONE. */
export function checkPutStatus(status: number, timeout: number | undefined): void {
  if (status === PUT_DONE) return;
  if (status === PUT_STOPPED) throw new ChannelClosed();
  if (status === PUT_TIMED_OUT) {
    throw new QueueTimeout(`Cannot write as the channel stayed full for ${timeout} ms`);
  }
  if (status === PUT_NOT_TAKEN) {
    throw new QueueTimeout(`Cannot write as no reader took the item within ${timeout} ms`);
  }
  if (status === PUT_TOO_LARGE) {
    throw new RangeError("Cannot write the item as it is larger than the channel's maxBytes");
  }
}

/** Validates a count of items to read or get (`what`: "read", "get items"). */
export function checkCount(count: number | undefined, what = "read"): void {
  if (count !== undefined && !(Number.isInteger(count) && count > 0)) {
    throw new RangeError(
      `Cannot ${what} as count must be a positive integer: current value is ${count}`,
    );
  }
}

/** Smallest byte storage of a queue or channel. */
export const MIN_RING_BYTES = 64;

/**
 * Validates a `maxBytes` option of a ring-backed queue or channel: an integer number of bytes,
 * never silently truncated to the 32-bit words the ring keeps its offsets in.
 *
 * @throws {RangeError} If it is not an integer from 64 to 1 GiB.
 */
export function checkMaxBytes(maxBytes: unknown, what: string): void {
  if (maxBytes === undefined) return;
  if (
    !(typeof maxBytes === "number" && Number.isInteger(maxBytes) && maxBytes >= MIN_RING_BYTES &&
      maxBytes <= MAX_RING_BYTES)
  ) {
    throw new RangeError(
      `Cannot create ${what} as maxBytes must be an integer from ${MIN_RING_BYTES} to ${MAX_RING_BYTES}: current value is ${
        String(maxBytes)
      }`,
    );
  }
}

/** Largest item count of a ring-backed queue (its counters are 32-bit words). */
export const MAX_RING_ITEMS = 0x3fffffff;
