// Copyright theta authors. MIT license.
// The shared state of a CallQueue: its request ring, control words and reply slots (see the
// state machine in callqueue.ts). Private: the public classes are in callqueue.ts.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and only functions, classes and primitives.

import { decode, encode, encodeOutcome } from "./_codec.ts";
import { CallQueueClosed, QueueTimeout } from "./_errors.ts";
import { nap } from "./_futex.ts";
import { Ring } from "./_ring.ts";
import { fromWire } from "./_shareable.ts";
import type { RingHandle } from "./_ring.ts";

/** Control words: flags, the result sequence, then one state word per slot. */
/** Where a failing call's error is raised (the recipe's `raise_exception` 1, 2, 3 and 0). */
export type RaiseMode = "caller" | "receiver" | "both" | "none";

/** The structured-cloneable description of a call queue. */
export interface CallQueueHandle {
  /** Always `"CallQueue"`. */
  readonly kind: "CallQueue";
  /** The ring the calls travel through. */
  readonly requests: RingHandle;
  /** Flags, sequences and one state word per reply slot. */
  readonly control: SharedArrayBuffer;
  /** The reply slots, where results come back. */
  readonly slots: readonly SharedArrayBuffer[];
  /** The handlers' names, so that callers refuse unknown ones at once. */
  readonly names: readonly string[];
  /** The id of the owner's thread, for calls whose arguments hold shared objects. */
  readonly owner: string;
  /** This queue's id among its owner's queues. */
  readonly channel: string;
}

export const CQ_FLAGS = 0;
export const CQ_DONE_SEQ = 1;
export const CQ_FREED_SEQ = 2;
export const CQ_SLOT_BASE = 4;
export const CQ_CLOSED = 1;
export const CQ_FINISHED = 2;

export const SLOT_FREE = 0;
export const SLOT_PENDING = 1;
export const SLOT_RUNNING = 2;
export const SLOT_WRITING = 3;
export const SLOT_READY = 4;
export const SLOT_ABANDONED = 5;
export const SLOT_REFUSED = 6;
/** Taken by the owner, which waits for the call's arguments by message (see ArgsRoute). */
export const SLOT_AWAITING_ARGS = 7;
/** Its caller's thread ended before the answer: the owner runs it, then frees the slot. */
export const SLOT_PENDING_DETACHED = 8;
export const SLOT_RUNNING_DETACHED = 9;

/** Whether a caller waits on a slot in `state` (the owner has yet to answer). */
export function isUnanswered(state: number): boolean {
  return state === SLOT_PENDING || state === SLOT_RUNNING || state === SLOT_WRITING ||
    state === SLOT_AWAITING_ARGS;
}

/**
 * How arguments holding shareables reach a call queue's owner. A SharedArrayBuffer cannot be
 * written into a byte ring, so such a call goes through the ring as a token, and its arguments
 * follow by message: by the worker's own postMessage link when the owner is the thread that
 * started this worker (the usual case: the main thread owns the queue and starts the threads),
 * or directly when caller and owner are the same thread. A message, unlike a BroadcastChannel,
 * leaves a worker at once even while it blocks in a call.
 */
export class ArgsRoute {
  /** This thread's id, recorded as the owner in the handles of the queues it creates. */
  static readonly threadId: string = crypto.randomUUID();
  /** The id of the thread that started this worker, if it is a theta worker. */
  static parentId: string | undefined;
  /** Sends a message to that thread. */
  static toParent: ((message: unknown) => void) | undefined;
  /** The queues owned by this thread, by channel: each takes a call's arguments. */
  static readonly owned: Map<string, (token: string, args: unknown[]) => void> = new Map();

  /**
   * Owner side (in a worker's message listener): takes arguments sent by `toParent`.
   *
   * @returns True if `data` was such a message.
   */
  static deliver(data: unknown): boolean {
    const message = (data as { thetaCallArgs?: { channel: string; token: string; args: unknown } })
      ?.thetaCallArgs;
    if (message === undefined) return false;
    ArgsRoute.owned.get(message.channel)?.(message.token, fromWire(message.args) as unknown[]);
    return true;
  }
}

/** A slot's header: outcome kind and byte length (Int32), then the encoded value. */
export const OUTCOME_OK = 1;
export const OUTCOME_ERROR = 2;
export const SLOT_HEADER = 8;
export const SLOT_INITIAL_BYTES = 256;
export const SLOT_MAX_BYTES = 16 * 1024 * 1024;
export const DEFAULT_SLOTS = 64;
/** How long a blocking caller polls its slot before it sleeps, in ms. */
export const CALLER_POLL_MS = 0.05;

/** A call's state on the caller's side. */
export class PendingCall {
  readonly slot: number;
  readonly raise: RaiseMode;
  readonly altReturn: unknown;
  /** "pending" until harvested from the slot. */
  state: "pending" | "ok" | "error" | "refused" | "abandoned" = "pending";
  value: unknown;
  /** For a call whose arguments hold shareables: sends them, once the owner waits for them. */
  post: (() => void) | undefined;
  posted = false;

  constructor(slot: number, raise: RaiseMode, altReturn: unknown) {
    this.slot = slot;
    this.raise = raise;
    this.altReturn = altReturn;
  }
}

/**
 * The state shared by every instance of one call queue, in any thread: the request ring, the
 * control words and the reply slots.
 */
export class CallQueueCore {
  readonly handle: CallQueueHandle;
  readonly requests: Ring;
  readonly control: Int32Array;
  readonly slots: readonly SharedArrayBuffer[];
  readonly names: ReadonlySet<string>;
  /** This thread's calls through this instance whose slots it has not freed yet. */
  readonly outstanding: Set<PendingCall> = new Set();
  #nextSlot = 0;
  #harvesting = false;

  /** The cores of this thread with outstanding calls, released when the thread ends. */
  static readonly live: Set<CallQueueCore> = new Set();

  /**
   * At the end of a thread: every call it made and did not collect gives back its slot. Answered
   * calls are harvested; calls not answered yet are detached (the owner still runs them, then
   * frees the slot), or abandoned if their arguments were still to be posted by this thread.
   */
  static releaseAll(): void {
    if (CallQueueCore.live.size === 0) return; // after most tasks: no iterator to make
    for (const core of CallQueueCore.live) {
      for (const call of [...core.outstanding]) core.detach(call);
    }
    CallQueueCore.live.clear();
  }

  constructor(handle: CallQueueHandle) {
    this.handle = handle;
    this.requests = new Ring(handle.requests);
    this.control = new Int32Array(handle.control);
    this.slots = handle.slots;
    this.names = new Set(handle.names);
  }

  get closed(): boolean {
    return (Atomics.load(this.control, CQ_FLAGS) & CQ_CLOSED) !== 0;
  }

  get finished(): boolean {
    return (Atomics.load(this.control, CQ_FLAGS) & CQ_FINISHED) !== 0;
  }

  slotState(slot: number): number {
    return Atomics.load(this.control, CQ_SLOT_BASE + slot);
  }

  /** Claims a free slot; -1 if none is free. Starts where the last search ended. */
  tryClaim(): number {
    const count = this.slots.length;
    for (let i = 0; i < count; i++) {
      const slot = (this.#nextSlot + i) % count;
      if (
        Atomics.compareExchange(this.control, CQ_SLOT_BASE + slot, SLOT_FREE, SLOT_PENDING) ===
          SLOT_FREE
      ) {
        this.#nextSlot = slot + 1;
        return slot;
      }
    }
    return -1;
  }

  free(slot: number): void {
    Atomics.store(this.control, CQ_SLOT_BASE + slot, SLOT_FREE);
    Atomics.add(this.control, CQ_FREED_SEQ, 1);
    Atomics.notify(this.control, CQ_FREED_SEQ);
  }

  /**
   * Sets a slot's state and wakes its caller and collectors, and the callers waiting for a free
   * slot: an answer is what lets a caller harvest its own finished calls and free their slots.
   */
  publish(slot: number, state: number): void {
    Atomics.store(this.control, CQ_SLOT_BASE + slot, state);
    Atomics.notify(this.control, CQ_SLOT_BASE + slot);
    Atomics.add(this.control, CQ_DONE_SEQ, 1);
    Atomics.notify(this.control, CQ_DONE_SEQ);
    Atomics.add(this.control, CQ_FREED_SEQ, 1);
    Atomics.notify(this.control, CQ_FREED_SEQ);
  }

  /** Records a call just sent from this thread. */
  track(call: PendingCall): void {
    this.outstanding.add(call);
    CallQueueCore.live.add(this);
  }

  /** Harvests every answered call of this thread (freeing their slots). */
  harvestAll(): void {
    for (const call of [...this.outstanding]) this.harvest(call);
  }

  /**
   * Harvests this thread's calls as they are answered, on its event loop, so that calls whose
   * items were dropped (`wait: false`) free their slots even if nobody asks. Holds no timer that
   * keeps the process alive.
   */
  async harvestInBackground(): Promise<void> {
    if (this.#harvesting) return;
    this.#harvesting = true;
    try {
      while (this.outstanding.size > 0) {
        const seq = Atomics.load(this.control, CQ_DONE_SEQ);
        this.harvestAll();
        if (this.outstanding.size === 0) break;
        await nap(this.control, CQ_DONE_SEQ, seq, 20);
      }
    } finally {
      this.#harvesting = false;
    }
  }

  /** Gives up this thread's interest in `call` (see releaseAll). */
  detach(call: PendingCall): void {
    const index = CQ_SLOT_BASE + call.slot;
    for (;;) {
      if (this.harvest(call)) return;
      if (
        Atomics.compareExchange(this.control, index, SLOT_PENDING, SLOT_PENDING_DETACHED) ===
          SLOT_PENDING ||
        Atomics.compareExchange(this.control, index, SLOT_RUNNING, SLOT_RUNNING_DETACHED) ===
          SLOT_RUNNING ||
        Atomics.compareExchange(this.control, index, SLOT_AWAITING_ARGS, SLOT_ABANDONED) ===
          SLOT_AWAITING_ARGS
      ) {
        call.state = "abandoned";
        this.outstanding.delete(call);
        return;
      }
      // WRITING: the owner is copying the result in; READY follows within microseconds.
    }
  }

  /**
   * Owner side: moves a taken call's slot to RUNNING.
   *
   * @returns False if its caller abandoned it (the slot is then freed and the call skipped).
   */
  begin(slot: number): boolean {
    const index = CQ_SLOT_BASE + slot;
    if (Atomics.compareExchange(this.control, index, SLOT_PENDING, SLOT_RUNNING) === SLOT_PENDING) {
      return true;
    }
    if (
      Atomics.compareExchange(this.control, index, SLOT_PENDING_DETACHED, SLOT_RUNNING_DETACHED) ===
        SLOT_PENDING_DETACHED
    ) {
      return true; // its caller's thread ended: run it all the same; answer() frees the slot
    }
    this.free(slot);
    return false;
  }

  /** Owner side: writes a call's outcome, unless its caller left (then frees the slot). */
  answer(slot: number, ok: boolean, value: unknown): void {
    const index = CQ_SLOT_BASE + slot;
    if (Atomics.compareExchange(this.control, index, SLOT_RUNNING, SLOT_WRITING) !== SLOT_RUNNING) {
      this.free(slot);
      return;
    }
    // A result holding shared objects cannot come back: encodeOutcome makes it a TypeError.
    const outcome = encodeOutcome(ok, value, "the call's result");
    let kind = outcome.ok ? OUTCOME_OK : OUTCOME_ERROR;
    let bytes = outcome.bytes;
    const buffer = this.slots[slot]!;
    const needed = SLOT_HEADER + bytes.length;
    if (needed > buffer.byteLength) {
      if (needed > buffer.maxByteLength) {
        kind = OUTCOME_ERROR;
        bytes = encode(
          new RangeError(
            `Cannot return the call's result as it is too large: current value is ${bytes.length} bytes, the limit ${
              buffer.maxByteLength - SLOT_HEADER
            }`,
          ),
        );
      } else {
        buffer.grow(Math.min(buffer.maxByteLength, Math.max(needed, buffer.byteLength * 2)));
      }
    }
    const header = new Int32Array(buffer, 0, 2);
    header[0] = kind;
    header[1] = bytes.length;
    new Uint8Array(buffer, SLOT_HEADER, bytes.length).set(bytes);
    this.publish(slot, SLOT_READY);
  }

  /** Owner side: refuses a queued call (the queue closed before it ran). */
  refuse(slot: number): void {
    const index = CQ_SLOT_BASE + slot;
    if (Atomics.compareExchange(this.control, index, SLOT_PENDING, SLOT_REFUSED) !== SLOT_PENDING) {
      this.free(slot);
      return;
    }
    this.publish(slot, SLOT_REFUSED);
  }

  /**
   * Caller side: takes a finished call's outcome out of its slot and frees the slot.
   *
   * @returns False if the call has not finished.
   */
  harvest(call: PendingCall): boolean {
    if (call.state !== "pending") return true;
    const state = this.slotState(call.slot);
    if (state === SLOT_AWAITING_ARGS && call.post !== undefined && !call.posted) {
      call.posted = true;
      call.post();
    }
    if (state === SLOT_READY) {
      const buffer = this.slots[call.slot]!;
      const header = new Int32Array(buffer, 0, 2);
      const kind = header[0];
      call.value = decode(new Uint8Array(buffer, SLOT_HEADER, header[1]).slice());
      call.state = kind === OUTCOME_OK ? "ok" : "error";
    } else if (state === SLOT_REFUSED) {
      call.state = "refused";
    } else if (state === SLOT_PENDING && this.finished) {
      // The owner will take no more calls; leave unless it took this one meanwhile.
      if (!this.abandon(call)) return this.harvest(call);
      call.state = "refused";
      return true;
    } else {
      return false;
    }
    this.free(call.slot);
    this.outstanding.delete(call);
    return true;
  }

  /**
   * Owner side: moves a taken call whose arguments come by message to AWAITING_ARGS and wakes
   * its caller to send them.
   *
   * @returns False if its caller abandoned it (the slot is then freed).
   */
  beginAwaitingArgs(slot: number): boolean {
    const index = CQ_SLOT_BASE + slot;
    if (
      Atomics.compareExchange(this.control, index, SLOT_PENDING, SLOT_AWAITING_ARGS) !==
        SLOT_PENDING
    ) {
      this.free(slot);
      return false;
    }
    Atomics.notify(this.control, index);
    return true;
  }

  /**
   * Owner side: a call's arguments arrived.
   *
   * @returns False if its caller left (the slot is then freed and the call skipped).
   */
  argsArrived(slot: number): boolean {
    const index = CQ_SLOT_BASE + slot;
    if (
      Atomics.compareExchange(this.control, index, SLOT_AWAITING_ARGS, SLOT_RUNNING) ===
        SLOT_AWAITING_ARGS
    ) {
      return true;
    }
    this.free(slot);
    return false;
  }

  /**
   * Caller side: gives up on a call.
   *
   * @returns True if abandoned; false if the owner is writing or wrote its outcome.
   */
  abandon(call: PendingCall): boolean {
    const index = CQ_SLOT_BASE + call.slot;
    for (const from of [SLOT_PENDING, SLOT_RUNNING, SLOT_AWAITING_ARGS]) {
      if (Atomics.compareExchange(this.control, index, from, SLOT_ABANDONED) === from) {
        call.state = "abandoned";
        this.outstanding.delete(call);
        return true;
      }
    }
    return false;
  }
}

/** The caller's view of a finished call: its value, or the error per its raise mode. */
export function outcomeOf(call: PendingCall, name: string): unknown {
  switch (call.state) {
    case "ok":
      return call.value;
    case "error":
      if (call.raise === "caller" || call.raise === "both") throw call.value;
      return call.altReturn;
    case "refused":
      throw new CallQueueClosed(`Cannot call "${name}" as the call queue was closed before it ran`);
    default:
      throw new QueueTimeout(`Cannot get the result of "${name}" as the call was abandoned`);
  }
}
