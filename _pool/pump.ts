// Copyright theta authors. MIT license.
// The pool's reply pump: while any task is in flight it takes replies off the workers' rings and
// hands them to the pool. It polls briefly, then checks between event-loop turns, then sleeps on
// the doorbell with Atomics.waitAsync (never blocking the event loop).

import { MacrotaskYielder, pollFor, waitAsync, YIELD_POLL_MS } from "../_futex.ts";
import {
  BELL_ASLEEP,
  BELL_BYTES,
  BELL_NAP_MS,
  BELL_NAPPING,
  BELL_SEQ,
  BELL_WAITING,
} from "./protocol.ts";

/** What the pump asks of its pool. */
export interface PumpSource {
  /** Tasks in flight: the pump runs while there are any. */
  inflight(): number;
  /** Handles every waiting reply; true if there was any. */
  drainReplies(): boolean;
  /** True if some reply is waiting (cheap: ring lengths only). */
  hasReplies(): boolean;
  /**
   * True while polling may pay: the threads at work (busy workers and this one) fit in the
   * cores. Beyond that, polling only takes CPU from the workers (on a machine with as many
   * workers as cores, or squeezed onto one core, the very core a worker needs).
   */
  worthPolling(): boolean;
  /**
   * True while more tasks are in flight than there are workers to run them: replies then come
   * one after another, and a nap (BELL_NAPPING) collects several per wake-up. With fewer, a
   * reply frees a worker with nothing queued and its caller waits for it: a nap would only
   * delay it (by up to BELL_NAP_MS).
   */
  queuedInWorkers(): boolean;
}

/** What the pump's synchronous part (`#step`) leaves to do. */
const DONE = 0;
/** Check again after one event-loop turn. */
const YIELD = 1;
/** Sleep on the bell (`#sleepSeq`, `#sleepNapping`). */
const SLEEP = 2;

/** Receives replies for one pool. */
export class ReplyPump {
  /** The doorbell workers ring after a reply (see BELL_* in protocol.ts). */
  readonly bell: Int32Array = new Int32Array(new SharedArrayBuffer(BELL_BYTES));
  readonly #source: PumpSource;
  readonly #yielder: MacrotaskYielder = new MacrotaskYielder();
  #running = false;
  /** Whether the next sleep is a nap (replies came fast: see BELL_NAPPING). */
  #napping = false;
  /** When the pump last found no reply after a drain (NaN: it found one since). */
  #idleSince = NaN;
  /** The BELL_SEQ value `#step` saw before it chose SLEEP. */
  #sleepSeq = 0;
  /** Whether that sleep is a nap. */
  #sleepNapping = false;

  /** `source.hasReplies`, made once: the poll loop would make a closure per call. */
  readonly #hasReplies: () => boolean;
  /**
   * The pump's first turn, made once. A sequential caller starts the pump for every task, and
   * its reply is usually there before the first poll ends: that turn runs as a plain function,
   * and only a pump that must wait enters the async loop (whose frame and promise are made per
   * start).
   */
  readonly #firstTurn: () => void;

  constructor(source: PumpSource) {
    this.#source = source;
    this.#hasReplies = () => source.hasReplies();
    this.#firstTurn = () => {
      let next = DONE;
      try {
        next = this.#step();
      } finally {
        if (next === DONE) this.#stopped();
      }
      if (next !== DONE) void this.#waitLoop(next);
    };
  }

  /** Whether the pump runs (until no task is in flight). */
  get running(): boolean {
    return this.#running;
  }

  /** Starts the pump unless it runs. */
  start(): void {
    if (this.#running) return;
    // From a microtask, not inside the caller: `run` must not poll for a reply before it returns
    // (a burst of submissions would wait on the first, and a reply drained that early would
    // free a worker in the middle of the caller's loop).
    this.#running = true;
    this.#idleSince = NaN;
    queueMicrotask(this.#firstTurn);
  }

  /** Wakes the pump if it sleeps (a task finished or was taken back without a reply). */
  wake(): void {
    Atomics.add(this.bell, BELL_SEQ, 1);
    Atomics.notify(this.bell, BELL_SEQ);
  }

  /**
   * Wakes the pump only if it sleeps: on this thread, a running pump sees the change itself
   * before it would sleep (it checks again after setting BELL_WAITING).
   */
  wakeIfAsleep(): void {
    if (Atomics.load(this.bell, BELL_WAITING) !== 0) this.wake();
  }

  /**
   * Drains and polls without waiting, while any task is in flight.
   *
   * @returns DONE (none in flight), YIELD, or SLEEP (BELL_WAITING is set: sleep on #sleepSeq).
   */
  #step(): number {
    const bell = this.bell;
    const source = this.#source;
    while (source.inflight() > 0) {
      if (source.drainReplies()) {
        this.#idleSince = NaN;
        continue;
      }
      const polling = source.worthPolling();
      if (polling && pollFor(this.#hasReplies)) continue;
      // No reply yet: check between event-loop turns for a while, then sleep.
      if (Number.isNaN(this.#idleSince)) this.#idleSince = performance.now();
      if (polling && performance.now() - this.#idleSince < YIELD_POLL_MS) return YIELD;
      // BELL_WAITING: 0 -> ASLEEP before the last check, so a worker that replies after the
      // check sees it and bumps BELL_SEQ, and the wait returns at once (Dekker, see _ring.ts).
      // While replies come fast the pump naps instead: no worker rings, and the nap's end
      // drains what came meanwhile (see BELL_NAPPING).
      const napping = this.#napping && source.queuedInWorkers();
      Atomics.store(bell, BELL_WAITING, napping ? BELL_NAPPING : BELL_ASLEEP);
      const seq = Atomics.load(bell, BELL_SEQ);
      if (source.drainReplies() || source.inflight() === 0) {
        Atomics.store(bell, BELL_WAITING, 0);
        continue;
      }
      this.#sleepSeq = seq;
      this.#sleepNapping = napping;
      return SLEEP;
    }
    return DONE;
  }

  /** Waits as `#step` said (YIELD or SLEEP), then steps again, until no task is in flight. */
  async #waitLoop(next: number): Promise<void> {
    const bell = this.bell;
    try {
      for (; next !== DONE; next = this.#step()) {
        if (next === YIELD) {
          await this.#yielder.next();
          continue;
        }
        this.#yielder.close(); // an open port would keep the process alive while asleep
        const napping = this.#sleepNapping;
        const slept = performance.now();
        // Its outcome is not needed: rung, nap over, or the bell moved before the wait, the pump
        // drains and checks again all the same.
        await waitAsync(bell, BELL_SEQ, this.#sleepSeq, napping ? BELL_NAP_MS : Infinity);
        Atomics.store(bell, BELL_WAITING, 0);
        // Nap on while naps find replies, or while a bell came within a nap's length; sleep
        // until rung once a nap found nothing (tasks got long, or the pool idles).
        this.#napping = napping
          ? this.#source.drainReplies()
          : performance.now() - slept < BELL_NAP_MS;
        this.#idleSince = NaN;
      }
    } finally {
      this.#stopped();
    }
  }

  #stopped(): void {
    this.#yielder.close();
    this.#running = false;
  }
}
