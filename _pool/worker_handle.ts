// Copyright theta authors. MIT license.
// The main thread's handle on one pool worker: spawning it, sending it jobs (the put status
// checked), taking back jobs it has not started, and retiring it together with whatever it runs.

import { PUT_DONE, PUT_FULL, PUT_STOPPED, PUT_TOO_LARGE, Ring } from "../_ring.ts";
import { toWire, wakeWaiters } from "../_shareable.ts";
import { unrefTimer } from "../_futex.ts";
import { endWorker, spawnWorker } from "../_spawn.ts";
import type { WorkerLike } from "../_node_thread.ts";
import type { Job } from "./job.ts";
import {
  type Handle,
  HandleBase,
  type HandleEvents,
  NO_REPLIES,
  type SendStatus,
} from "./handle.ts";
import { encodeArgs } from "./payload.ts";
import {
  type ArgsMessage,
  MAX_PAYLOAD_BYTES,
  MAX_PREFETCH,
  payloadTooLarge,
  type PoolWorkerInit,
  RECORD_SLACK_BYTES,
  REQUEST_BY_MESSAGE,
  REQUEST_CALL,
  requestRecord,
  STATE_BYTES,
  STATE_CANCEL,
  STATE_CANCEL_KIND,
  STATE_CRIT,
  STATE_KILL,
  STATE_TICKETS,
  type WorkerMessage,
} from "./protocol.ts";

/** One live pool worker, with its rings and tickets. */
export class WorkerHandle extends HandleBase implements Handle {
  readonly worker: WorkerLike;
  readonly requests: Ring;
  readonly replies: Ring;
  /** Tickets, cancel words, then the kill and critical words (see STATE_* in protocol.ts). */
  readonly state: Int32Array;
  readonly freeTickets: number[];
  /** Functions whose source this worker has received. */
  readonly functions: Set<number> = new Set();
  /** Resolves once `retire` has terminated the worker (see endWorker). */
  #ended: Promise<void> | undefined;

  constructor(
    bell: Int32Array,
    module: string | undefined,
    name: string,
    events: HandleEvents,
    maxMemoryMb?: number,
  ) {
    super();
    // Room for one record of the largest payload: a full ring refuses more (SendStatus "full").
    const ringBytes = MAX_PAYLOAD_BYTES + RECORD_SLACK_BYTES;
    this.requests = Ring.create({ initialBytes: 1024, maxBytes: ringBytes, singleReader: true });
    this.replies = Ring.create({ initialBytes: 1024, maxBytes: ringBytes });
    const state = new SharedArrayBuffer(STATE_BYTES);
    this.state = new Int32Array(state);
    this.freeTickets = Array.from({ length: MAX_PREFETCH }, (_, i) => STATE_TICKETS + i);
    const init: PoolWorkerInit = {
      role: "pool",
      requests: this.requests.handle,
      replies: this.replies.handle,
      state,
      bell: bell.buffer as SharedArrayBuffer,
      module,
      macrotaskTurns: maxMemoryMb !== undefined,
    };
    this.worker = spawnWorker(init, name, "a pool worker", { maxMemoryMb });
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.gone = true;
      events.onError(this, event.message);
    };
    this.worker.onmessage = (event) => {
      // A task may post messages of its own (`self.postMessage`): only theta's shapes count, and
      // nothing a task posts may throw here, on the pool's event loop.
      const message = event.data as WorkerMessage | null;
      if (typeof message !== "object" || message === null) return;
      if ("repliesWaiting" in message) events.onRepliesWaiting();
      else if (Number.isInteger(message.id) && "result" in message) {
        this.mailbox.deliver(message.id, message.result);
      }
    };
  }

  /**
   * Tells the running task `id` it is cancelled (its `taskContext().signal` aborts), before the
   * worker is retired: a cooperative task stops even if it never yields.
   */
  cancel(id: number, kind: number): void {
    Atomics.store(this.state, STATE_CANCEL_KIND, kind);
    Atomics.store(this.state, STATE_CANCEL, id);
    Atomics.notify(this.state, STATE_CANCEL);
  }

  /** Whether it can take another job ahead of the one it runs. */
  get hasTicket(): boolean {
    return this.freeTickets.length > 0;
  }

  /**
   * Sends `job` under a free ticket. The job's function source goes with the first job of that
   * function; it is marked as sent only once the request is in the ring.
   *
   * @returns "sent", or "full" if the request ring has no room now (the job stays unsent).
   * @throws {TypeError|RangeError} From `encodeArgs`, or a postMessage that refused a transfer.
   */
  send(job: Job<Handle>): SendStatus {
    if (job.payload === undefined && job.transfer === undefined) {
      const status = this.#sendDirect(job);
      if (status !== undefined) return status;
    }
    const payload = encodeArgs(job, true);
    const ticket = this.freeTickets.pop()!;
    const needsSource = typeof job.ref === "number" && !this.functions.has(job.ref);
    let status: number;
    try {
      if (payload === null) {
        const message: ArgsMessage = { id: job.id, args: toWire(job.args, "args") };
        this.worker.postMessage(message, job.transfer ?? []);
      }
      Atomics.store(this.state, ticket, job.id);
      status = this.requests.tryPut(
        requestRecord(
          payload === null ? REQUEST_BY_MESSAGE : REQUEST_CALL,
          job.id,
          job.ref,
          needsSource ? job.source : undefined,
          payload ?? undefined,
          job.mode,
          ticket,
        ),
        false,
        "the task",
      );
    } catch (error) {
      Atomics.store(this.state, ticket, 0);
      this.freeTickets.push(ticket);
      throw error;
    }
    if (status !== PUT_DONE) {
      // PUT_FULL: a large request still fills the ring; PUT_STOPPED: the worker is retiring.
      Atomics.store(this.state, ticket, 0);
      this.freeTickets.push(ticket);
      if (status === PUT_TOO_LARGE) throw payloadTooLarge("the task (arguments and source)");
      if (payload !== null && (status === PUT_FULL || status === PUT_STOPPED)) return "full";
      // Arguments already posted cannot be taken back from the worker's mailbox (rare: a
      // message-borne request is a few bytes): the task fails instead of waiting forever.
      throw new Error(
        `Cannot send the task to its worker as its request ring refused it (${status})`,
      );
    }
    if (needsSource) this.functions.add(job.ref as number);
    this.attach(job, "sent", ticket);
    return "sent";
  }

  /**
   * Sends jobs whose arguments are encoded already (`job.payload`), in one put: one hold of the
   * ring's lock and at most one wake-up of the worker for the batch.
   *
   * @returns How many were sent, from the first; the rest stay unsent (the ring is full, or a
   * request is too large: `send` then says which).
   */
  sendMany(jobs: Job<Handle>[]): number {
    const records = new Array<unknown>(jobs.length);
    const tickets = new Array<number>(jobs.length);
    const sources = new Array<boolean>(jobs.length);
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      const ticket = this.freeTickets.pop()!;
      // The first job of a function new to this worker carries its source, the others not.
      const needsSource = typeof job.ref === "number" && !this.functions.has(job.ref);
      if (needsSource) this.functions.add(job.ref as number);
      Atomics.store(this.state, ticket, job.id);
      tickets[i] = ticket;
      sources[i] = needsSource;
      records[i] = requestRecord(
        REQUEST_CALL,
        job.id,
        job.ref,
        needsSource ? job.source : undefined,
        job.payload,
        job.mode,
        ticket,
      );
    }
    let added = 0;
    try {
      added = this.requests.tryPutMany(records, false, "the task").added;
    } finally {
      // Those not added (all of them if encoding threw) give their tickets and sources back.
      for (let i = jobs.length - 1; i >= added; i--) {
        Atomics.store(this.state, tickets[i]!, 0);
        this.freeTickets.push(tickets[i]!);
        if (sources[i]) this.functions.delete(jobs[i]!.ref as number);
      }
    }
    for (let i = 0; i < added; i++) this.attach(jobs[i]!, "sent", tickets[i]!);
    return added;
  }

  /**
   * Sends a job whose arguments were not encoded yet (the pool sends it in the call that made it)
   * with its arguments encoded inside the request record: one encoding pass, and no copy of them
   * kept.
   *
   * @returns The status, or undefined for the general path: arguments that must travel by message,
   * cannot be encoded, or are too large (that path says why, naming them).
   */
  #sendDirect(job: Job<Handle>): SendStatus | undefined {
    const ticket = this.freeTickets.pop()!;
    const needsSource = typeof job.ref === "number" && !this.functions.has(job.ref);
    Atomics.store(this.state, ticket, job.id);
    let status: number;
    try {
      status = this.requests.tryPut(
        requestRecord(
          REQUEST_CALL,
          job.id,
          job.ref,
          needsSource ? job.source : undefined,
          job.args,
          job.mode,
          ticket,
        ),
        false,
        "the task",
      );
    } catch {
      status = -1;
    }
    if (status === PUT_DONE) {
      if (needsSource) this.functions.add(job.ref as number);
      this.attach(job, "sent", ticket);
      return "sent";
    }
    Atomics.store(this.state, ticket, 0);
    this.freeTickets.push(ticket);
    return status === PUT_FULL || status === PUT_STOPPED ? "full" : undefined;
  }

  /**
   * Takes back a job this worker has not started.
   *
   * @returns True if taken back (then the job is detached); false if the worker claimed it.
   */
  steal(job: Job<Handle>): boolean {
    if (Atomics.compareExchange(this.state, job.ticket, job.id, 0) !== job.id) {
      job.state = "running";
      return false;
    }
    this.detach(job);
    job.state = "queued";
    return true;
  }

  /** Takes `job` off this worker and frees its ticket. */
  override detach(job: Job<Handle>): void {
    const ticket = job.ticket;
    super.detach(job);
    this.freeTickets.push(ticket);
  }

  /**
   * Takes back every job not started, before the worker is retired.
   *
   * @returns The jobs taken back, in order, and the one it runs, if any (still attached).
   */
  evacuate(): { unstarted: Job<Handle>[]; running: Job<Handle> | undefined } {
    const unstarted: Job<Handle>[] = [];
    let running: Job<Handle> | undefined;
    for (const job of this.jobs.toArray()) {
      if (this.steal(job)) unstarted.push(job);
      else running = job;
    }
    return { unstarted, running };
  }

  /** True if replies wait in the reply ring. */
  hasReplies(): boolean {
    return this.replies.length > 0;
  }

  /** Reply records waiting in the reply ring, oldest first (read each with `readReply`). */
  takeReplies(): readonly unknown[] {
    if (this.replies.length === 0) return NO_REPLIES;
    return this.replies.takeMany();
  }

  /**
   * Ends the worker. `terminate()` does not end a thread blocked in Atomics.wait (nor one busy
   * in JavaScript), and such a thread keeps the process from exiting: the worker's kill word is
   * set and every wait it may be blocked in is woken (its own request ring, and the shared
   * objects and shared typed arrays its jobs got as arguments), so theta's waits throw and a
   * raw Atomics.wait returns.
   */
  retire(): Promise<void> {
    if (!this.markDead()) return this.#ended ?? Promise.resolve();
    this.requests.stop();
    const args = this.jobs.toArray().map((job) => job.args);
    // A running task gets a short grace to see its cancelled signal and clean up; then the
    // worker is terminated (which stops a task awaiting or calling functions, not every loop),
    // never inside one of theta's locked sections.
    this.#ended = endWorker(
      this.worker,
      this.state.subarray(STATE_KILL, STATE_KILL + 1),
      this.state.subarray(STATE_CRIT, STATE_CRIT + 1),
      args.length === 0 ? 0 : TERMINATE_GRACE_MS,
      () => this.gone,
    );
    wakeWaiters(args);
    // A raw Atomics.wait entered just after that notify would sleep on: wake again a few times.
    // The timers are unref'd, so they never keep the process alive themselves.
    if (args.length > 0) rewake(args, 1);
    return this.#ended;
  }
}

/** How long a retired worker's running task may run on after its signal aborted, in ms. */
export const TERMINATE_GRACE_MS = 100;

/** Wakes the waits `args` may hold again after `ms`, then at growing intervals up to 2 s. */
function rewake(args: unknown[], ms: number): void {
  if (ms > 2000) return;
  unrefTimer(setTimeout(() => {
    wakeWaiters(args);
    rewake(args, ms * 5);
  }, ms));
}
