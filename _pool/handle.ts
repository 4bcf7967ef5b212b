// Copyright theta authors. MIT license.
// What a Pool asks of one of its workers, whatever runs it: a thread (WorkerHandle) or a child
// process (ProcessHandle).

import { Deque } from "./deque.ts";
import { Mailbox } from "./mailbox.ts";
import type { Job } from "./job.ts";
import type { Reply } from "./protocol.ts";

/** What `send` did with a job. */
export type SendStatus = "sent" | "full";

/** What a worker handle reports to its pool. */
export interface HandleEvents {
  /** The worker died or failed to start, outside any reply (its thread's error event, or the
   * process exited). */
  onError(handle: Handle, message: string): void;
  /** A reply that arrived outside the rings the pump drains (a process's stdout). */
  onReply(handle: Handle, reply: Reply): void;
  /** Replies no task waits for are in a worker's ring: drain them now (threads only). */
  onRepliesWaiting(): void;
}

/** What takeReplies returns when there is none: one frozen array, not a new one per poll. */
export const NO_REPLIES: readonly unknown[] = Object.freeze([]);

/** One worker of a pool. */
export interface Handle {
  /** Jobs sent to the worker, in order; the first may be running, the rest wait for it. */
  readonly jobs: Deque<Job<Handle>>;
  /** Results that come by postMessage (threads only). */
  readonly mailbox: Mailbox;
  /** When it was spawned (performance.now()). */
  readonly spawnedAt: number;
  /** Jobs sent and not yet finished. */
  readonly load: number;
  /** Whether it can take another job now. */
  readonly hasTicket: boolean;
  /** Tasks it has finished. */
  finished: number;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  dead: boolean;
  /**
   * True once the worker is known to run no more code (its error event fired, or it said it
   * exits or could not start): `retire` then ends it without waiting for an answer.
   */
  gone: boolean;
  /** True if replies wait in its reply ring (for the pump); false for processes. */
  hasReplies(): boolean;
  /** Reply records waiting in its reply ring, oldest first (read each with `readReply`). */
  takeReplies(): readonly unknown[];
  /** Sends `job`; "full" if it cannot take it now. */
  send(job: Job<Handle>): SendStatus;
  /**
   * Sends jobs whose arguments are encoded already (`job.payload`), in one batch (thread
   * workers only).
   *
   * @returns How many were sent, from the first: the rest stay unsent.
   */
  sendMany?(jobs: Job<Handle>[]): number;
  /** Takes back a job it has not started; false if it runs. */
  steal(job: Job<Handle>): boolean;
  /** Takes `job` off it. */
  detach(job: Job<Handle>): void;
  /** The job with this id, if it has it. */
  jobOf(id: number): Job<Handle> | undefined;
  /** Takes back every job not started. */
  evacuate(): { unstarted: Job<Handle>[]; running: Job<Handle> | undefined };
  /** Tells its running task `id` it is cancelled (CANCEL_* kind), before `retire`. */
  cancel(id: number, kind: number): void;
  /**
   * Ends it.
   *
   * @returns A promise that resolves once it is ended (a thread terminated after its grace, a
   * process killed and reaped); the same one on every call.
   */
  retire(): Promise<void>;
}

/** What every handle keeps: the jobs it was sent, in order, and its own bookkeeping. */
export abstract class HandleBase {
  /**
   * Jobs sent to the worker, in order; the first may be running, the rest wait for it. A ring:
   * the first leaves once per task, and an array would move the others down each time.
   */
  readonly jobs: Deque<Job<Handle>> = new Deque();
  /** Results that come by postMessage (threads only). */
  readonly mailbox: Mailbox = new Mailbox();
  /** When it was spawned (performance.now()), for utilization. */
  readonly spawnedAt: number = performance.now();
  /** Tasks it has finished, for `maxTasksPerWorker` and stats. */
  finished = 0;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  dead = false;
  gone = false;

  /** Jobs sent and not yet finished. */
  get load(): number {
    return this.jobs.length;
  }

  /** Records `job` as sent to this worker, in `state`, under `ticket`; it is no longer idle. */
  protected attach(job: Job<Handle>, state: "sent" | "running", ticket: number): void {
    job.state = state;
    job.worker = this as unknown as Handle;
    job.ticket = ticket;
    this.jobs.push(job);
    this.#clearIdleTimer();
  }

  /**
   * Marks it dead, once.
   *
   * @returns False if it already was.
   */
  protected markDead(): boolean {
    if (this.dead) return false;
    this.dead = true;
    this.#clearIdleTimer();
    return true;
  }

  #clearIdleTimer(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Takes `job` off this worker. */
  detach(job: Job<Handle>): void {
    this.jobs.remove(job);
    job.worker = undefined;
    job.ticket = -1;
  }

  /** The job with this id, if this worker has it. */
  jobOf(id: number): Job<Handle> | undefined {
    const jobs = this.jobs; // by index: an iterator per reply would survive optimisation
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs.at(i)!;
      if (job.id === id) return job;
    }
    return undefined;
  }
}
