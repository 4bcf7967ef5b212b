// Copyright theta authors. MIT license.
// A task's arguments as a worker receives them: encoded once for the ring or the pipe, with the
// size limit and the two ways shared memory can go (by postMessage to a thread, not at all to a
// process).

import { copyBytes, Encoded, Encoder, UncloneableError } from "../_codec.ts";
import { toWire } from "../_shareable.ts";
import type { Handle } from "./handle.ts";
import type { Job } from "./job.ts";
import { MAX_PAYLOAD_BYTES, payloadTooLarge } from "./protocol.ts";

/**
 * Encodes a job's arguments, once (the result is kept in `job.payload`).
 *
 * @param job The job.
 * @param threads True for thread workers, where shared objects and transfers travel by
 * postMessage; false for process workers, where they cannot go.
 * @returns The payload, or null when the arguments must travel by postMessage (threads only).
 * @throws {TypeError} If an argument cannot cross, naming its path (for a process worker: a
 * shared object, or any transfer).
 * @throws {RangeError} If the arguments are over MAX_PAYLOAD_BYTES.
 */
export function encodeArgs(job: Job<Handle>, threads: boolean): Encoded | null {
  if (job.payload !== undefined) return job.payload;
  if (job.transfer !== undefined) {
    if (!threads) {
      throw new TypeError(
        "Cannot run the task with transfer in a process worker: arguments are copied to the process",
      );
    }
    toWire(job.args, "args"); // fails now, naming the path, if it cannot go
    return job.payload = null;
  }
  const encoder = Encoder.get();
  let length: number;
  try {
    length = encoder.encodeLength(job.args, "args");
  } catch (error) {
    if (!(error instanceof UncloneableError && error.needsMessage)) throw error;
    if (!threads) {
      throw new TypeError(
        `${
          error.message.replace(/ to another thread as it is a shared object.*$/, "")
        } to a process worker as it is a shared object: shared memory does not cross processes (use isolation: "thread")`,
        { cause: error },
      );
    }
    toWire(job.args, "args");
    return job.payload = null;
  }
  if (length > MAX_PAYLOAD_BYTES) {
    const hint = threads ? ": pass large buffers in transfer" : "";
    throw payloadTooLarge("the task's arguments", length, hint);
  }
  return job.payload = keep(encoder.buf, length);
}

/** Payloads up to this size are copied into a shared slab instead of a buffer of their own. */
export const SLAB_COPY_LIMIT = 2048;
/** Size of one slab. */
export const SLAB_BYTES = 8192;

/** The slab being filled, and how much of it is used. */
const slab = { bytes: new Uint8Array(SLAB_BYTES), used: 0 };

/**
 * Copies encoded bytes out of the encoder's scratch, to keep. Small ones go into a slab shared
 * with the next payloads (as Node's Buffer pool does): an ArrayBuffer of its own costs about
 * 300 ns, most of a tiny task's submission, and the payload names its place in the slab rather
 * than taking a view of it (a typed array each). A slab lives while any payload in it does, so
 * at most SLAB_BYTES are held for one small payload.
 */
function keep(bytes: Uint8Array, length: number): Encoded {
  if (length > SLAB_COPY_LIMIT) return new Encoded(bytes.slice(0, length));
  if (slab.used + length > SLAB_BYTES) {
    slab.bytes = new Uint8Array(SLAB_BYTES);
    slab.used = 0;
  }
  const { bytes: target, used } = slab;
  copyBytes(target, used, bytes, 0, length);
  slab.used += length;
  return new Encoded(target, used, length);
}
