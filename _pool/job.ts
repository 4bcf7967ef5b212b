// Copyright theta authors. MIT license.
// One task on its way through a pool: a record mutated in place from submission to settlement,
// never copied, so that its timeout and abort handlers, its queue entry and its worker all see
// the same state.

import type { Encoded } from "../_codec.ts";

/**
 * Where a job is. Transitions (only these):
 *
 *   QUEUED --sent to a worker--> SENT --its worker claims the ticket--> RUNNING --> SETTLED
 *   SENT --taken back (steal, cancel, worker retired before claiming)--> QUEUED or SETTLED
 *   QUEUED --cancelled, refused, pool terminated--> SETTLED
 *
 * The main thread learns of a claim only when a steal fails or a reply comes, so a SENT job may
 * already run in its worker: the ticket word (see MAX_PREFETCH in protocol.ts) is the truth, and a
 * failed steal moves the job to RUNNING.
 */
export type JobState = "queued" | "sent" | "running" | "settled";

/** A task of a pool; `W` is the type of the worker handle it is sent to. */
export interface Job<W = unknown> {
  readonly id: number;
  /** A function's number in its pool, or an export name. */
  readonly ref: number | string;
  /** The function's source, for workers that have not seen it. */
  readonly source: string | undefined;
  /** The function itself, for inline runs. */
  readonly fn: ((...args: never[]) => unknown) | undefined;
  readonly args: unknown[];
  /** MODE_ONCE or MODE_EACH (protocol.ts). */
  readonly mode: number;
  readonly transfer: Transferable[] | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
  readonly onProgress: ((value: unknown) => void) | undefined;
  state: JobState;
  /**
   * The encoded arguments, made once when the job is first sent to a worker (or at submission,
   * to refuse what cannot cross threads); `null` when they travel by postMessage.
   */
  payload: Encoded | null | undefined;
  /** The worker it was sent to, while SENT or RUNNING. */
  worker: W | undefined;
  /** Its ticket index in that worker's control block, while SENT or RUNNING. */
  ticket: number;
  /** When `run` accepted it (performance.now()), for wait times. */
  readonly submittedAt: number;
  /** Removes its timer and abort listener. */
  cleanup: (() => void) | undefined;
}
