// Copyright theta authors. MIT license.
// Argument and status checks shared by the public modules.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and only functions, classes and primitives.

import { ChannelClosed, QueueTimeout } from "./_errors.ts";
import { PUT_DONE, PUT_STOPPED, PUT_TIMED_OUT, PUT_TOO_LARGE } from "./_ring.ts";
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

/** Largest channel size. */
export const MAX_CHANNEL_SIZE = 0x3fffffff;

/** Throws the channel's error for a put status that is not PUT_DONE. */
export function checkPutStatus(status: number, timeout: number | undefined): void {
  if (status === PUT_DONE) return;
  if (status === PUT_STOPPED) throw new ChannelClosed();
  if (status === PUT_TIMED_OUT) {
    throw new QueueTimeout(`Cannot write as the channel stayed full for ${timeout} ms`);
  }
  if (status === PUT_TOO_LARGE) {
    throw new RangeError("Cannot write the item as it is larger than the channel's maxBytes");
  }
}

/** Validates a read count. */
export function checkCount(count: number | undefined): void {
  if (count !== undefined && !(Number.isInteger(count) && count > 0)) {
    throw new RangeError(
      `Cannot read as count must be a positive integer: current value is ${count}`,
    );
  }
}
