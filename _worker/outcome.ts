// Copyright theta authors. MIT license.
// A value or error sent once by postMessage, with the codec's bytes (error classes survive).
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and import only bundled modules.

import { decode, encodeOutcome } from "../_codec.ts";
import { fromWire, toWire } from "../_shareable.ts";

/**
 * A value or error sent once by postMessage (threads' results, periodic results, polled values):
 * codec bytes keep errors' classes and causes; `wire` carries values holding shareables.
 */
export type Outcome =
  | { ok: boolean; bytes: Uint8Array }
  | { ok: true; wire: unknown };

/** Packs `value` for postMessage; a result that cannot travel becomes a TypeError outcome. */
export function packOutcome(ok: boolean, value: unknown, what: string): Outcome {
  const outcome = encodeOutcome(ok, value, what);
  if (outcome.needsMessage) return { ok: true, wire: toWire(value, what) };
  return { ok: outcome.ok, bytes: outcome.bytes.slice() };
}

/** The value or error packed by `packOutcome`. */
export function unpackOutcome(outcome: Outcome): { ok: boolean; value: unknown } {
  return {
    ok: outcome.ok,
    value: "bytes" in outcome ? decode(outcome.bytes) : fromWire(outcome.wire),
  };
}
