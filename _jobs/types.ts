// Copyright theta authors. MIT license.
// The job API's public types, shared by KvPool (kv.ts) and BullPool (bull.ts): both pools have
// the same members and semantics, so callers can swap one for the other.

import type { Task } from "../_pool/task.ts";

/** A job's state. */
export type JobState = "queued" | "running" | "done" | "failed";

/** What `status` tells of a job. */
export interface JobStatus<R = unknown> {
  /** The job's id. */
  id: string;
  /** The task's name. */
  task: string;
  /** Where the job is. */
  state: JobState;
  /** Runs started, retries included. */
  attempts: number;
  /** Runs whose lease expired (their listener died or stalled); they use up no retry. */
  stalls: number;
  /** The result, once done. */
  result?: R;
  /** The last error: of the failed job, or of the attempt before a retry. */
  error?: Error;
  /** When it was enqueued (epoch ms). */
  enqueuedAt: number;
  /** When it is due, or was due (epoch ms). */
  notBefore: number;
  /** When it finished (epoch ms). */
  finishedAt?: number;
}

/** The options every job pool takes (`KvPool`, `BullPool`). */
export interface JobPoolOptions<M extends Record<string, Task>> {
  /**
   * The tasks, by name: an object of functions (run on the listener's event loop), or a module
   * URL whose exports they are (run on worker threads where `Worker` exists, so a CPU-bound job
   * never delays the renewal of its lease).
   */
  tasks: M | URL | string;
  /**
   * The queue's name: pools of one name share jobs, across processes.
   *
   * @default {"default"}
   */
  name?: string;
  /**
   * Delays in ms before each retry of a failing job; with them used up, the job fails and lands
   * in the dead letters.
   *
   * @default {[1000, 5000, 10000]}
   */
  backoffSchedule?: number[];
  /**
   * How long finished jobs (results and errors) are kept, in ms. Dead letters are kept until
   * retried.
   *
   * @default {86400000} (a day)
   */
  resultTtl?: number;
  /**
   * How long a running job is held without its listener renewing the lease, in ms: the time
   * after which a crashed listener's job runs elsewhere.
   *
   * @default {30000}
   */
  leaseMs?: number;
  /**
   * Jobs a listener runs at once.
   *
   * @default {4}
   */
  concurrency?: number;
  /**
   * Stalls (runs whose lease expired) a job may have before it goes to the dead letters. A stall
   * uses up no retry of `backoffSchedule`.
   *
   * @default {3}
   */
  maxStalls?: number;
}

/** Options for `enqueue`. */
export interface EnqueueOptions {
  /**
   * Milliseconds before the job may run.
   *
   * @default {0}
   */
  delay?: number;
  /**
   * An idempotency key: enqueueing the same key again (while the first job's record is kept)
   * returns the first job's id and runs nothing twice.
   *
   * @default {undefined}
   */
  key?: string;
}

/** Options for `result`. */
export interface JobWaitOptions {
  /**
   * Stops waiting (the job itself goes on).
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Milliseconds to wait at most; then the promise rejects with a `TimeoutError` `DOMException`
   * (the job itself goes on).
   *
   * @default {undefined} (no limit)
   */
  timeout?: number;
}

/** Options for `listen`. */
export interface ListenOptions {
  /**
   * Stops claiming jobs (the pool stays open and may listen again); the running ones finish.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}
