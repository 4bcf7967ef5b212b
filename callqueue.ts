// Copyright theta authors. MIT license.
// The CallQueue recipe: other threads call functions that a busy thread runs when it drains its
// queue. Calls travel through one shared ring (the same Ring as queues and pools); each result
// comes back through a reply slot, a small growable SharedArrayBuffer owned by one call at a time,
// whose state word the caller waits on with Atomics.wait. No postMessage per call.
//
// A slot's state word (control[CQ_SLOT_BASE + slot]) moves:
//   FREE -> PENDING            caller claims it (CAS) and sends the call
//   PENDING -> RUNNING         owner takes the call (CAS)
//   PENDING -> AWAITING_ARGS -> RUNNING   the same, for arguments that follow by message
//   RUNNING -> WRITING -> READY           owner writes the result (CAS, then store)
//   READY or REFUSED -> FREE   the caller's thread harvests the outcome into its own memory
//   PENDING, RUNNING or AWAITING_ARGS -> ABANDONED   caller gave up (timeout, abort); the owner
//                              then frees the slot instead of running or answering it
//   PENDING -> PENDING_DETACHED, RUNNING -> RUNNING_DETACHED   the caller's thread ended (or was
//                              killed mid-call): the owner still runs the call, then frees the slot
//   PENDING -> REFUSED         the queue closed before the call ran
// Every transition out of a state another thread may change is a compare-exchange, so a slot is
// never written after its caller left. A caller harvests its answered calls whenever it claims a
// slot and, for calls nobody waits for (wait: false, callAndCollect), on its event loop in the
// background; at its thread's end it detaches the rest (CallQueueCore.releaseAll): so calls whose
// results are never collected hold no slot for long.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and only functions, classes and primitives.

import { encode, Encoded, SHAREABLE, UncloneableError } from "./_codec.ts";
import { CallQueueClosed, QueueFull, QueueTimeout } from "./_errors.ts";
import { checkTimeout, deadlineOf, pollFor, remaining, waitAsync, waitSync } from "./_futex.ts";
import { ENDED, NOTHING, PUT_DONE, PUT_FULL, Ring } from "./_ring.ts";
import {
  ArgsRoute,
  CALLER_POLL_MS,
  CallQueueCore,
  type CallQueueHandle,
  CQ_CLOSED,
  CQ_DONE_SEQ,
  CQ_FINISHED,
  CQ_FLAGS,
  CQ_FREED_SEQ,
  CQ_SLOT_BASE,
  DEFAULT_SLOTS,
  isUnanswered,
  outcomeOf,
  PendingCall,
  type RaiseMode,
  SLOT_INITIAL_BYTES,
  SLOT_MAX_BYTES,
  SLOT_READY,
} from "./_callqueue_slots.ts";
import { Shareables, toWire } from "./_shareable.ts";
import { checkHandle, MAX_RING_ITEMS } from "./_checks.ts";

export { CallQueueClosed, QueueFull, QueueTimeout } from "./_errors.ts";
export type { RingHandle } from "./_ring.ts";
export type { CallQueueHandle, RaiseMode } from "./_callqueue_slots.ts";

/** Handlers: the functions the owner runs for callers, by name. */
// deno-lint-ignore no-explicit-any
export type Handlers = Record<string, (...args: any[]) => unknown>;

/** Options for {@linkcode CallQueue}. */
export interface CallQueueOptions {
  /**
   * Most calls waiting to be received; more throw `QueueFull`. No limit if undefined.
   *
   * @default {undefined}
   */
  maxSize?: number;
  /**
   * Calls whose results may be outstanding at once (reply slots), across all callers. A caller
   * finding none free waits for one.
   *
   * @default {64}
   */
  slots?: number;
}

/** Options for {@linkcode CallQueue.prototype.call} and its twins. */
export interface CallOptions<T = unknown> {
  /**
   * Block until the owner ran the call and return its result; if false, return a `CallItem` at
   * once.
   *
   * @default {true}
   */
  wait?: boolean;
  /**
   * Milliseconds to wait for the result; then `QueueTimeout` (and the call, if not started,
   * never runs). No limit if undefined.
   *
   * @default {undefined}
   */
  timeout?: number;
  /**
   * Where an error thrown by the handler is raised: in this caller, in the owner's `receive()`,
   * both, or neither (this caller then gets `altReturn`).
   *
   * @default {"caller"}
   */
  raise?: RaiseMode;
  /**
   * What this caller gets for a failed call whose error is not raised here.
   *
   * @default {undefined}
   */
  altReturn?: T;
}

/** Options for {@linkcode CallQueue.prototype.callAsync}. */
export interface CallAsyncOptions<T = unknown> extends Omit<CallOptions<T>, "wait"> {
  /**
   * Stops waiting for the result (the call, if not started, never runs).
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** Options for {@linkcode CallQueue.prototype.serve}. */
export interface ServeOptions {
  /**
   * Stops serving.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * A call made with `wait: false` or `callAndCollect`: poll it with `done()`, then read
 * `result()` or `error()`. Use it in the thread that made the call.
 *
 * @typeParam R The handler's result.
 *
 * @example Polling a call
 * ```ts
 * import { CallQueue } from "@theta/theta/callqueue";
 * import assert from "node:assert/strict";
 *
 * const calls = new CallQueue({ add: (a: number, b: number) => a + b });
 * const item = calls.call("add", [2, 3], { wait: false });
 * assert.equal(item.done(), false);
 * calls.receive();
 * assert.equal(item.done(), true);
 * assert.equal(item.result(), 5);
 * assert.equal(item.error(), undefined);
 * ```
 */
export class CallItem<R = unknown> {
  /** The handler's name. */
  readonly name: string;
  /** The call's arguments. */
  readonly args: readonly unknown[];
  readonly #core: CallQueueCore;
  readonly #call: PendingCall;

  /**
   * Made by `CallQueue.call` and `callAndCollect`.
   *
   * @param core The queue's shared state.
   * @param call The call.
   * @param name The handler's name.
   * @param args The arguments.
   */
  constructor(core: CallQueueCore, call: PendingCall, name: string, args: readonly unknown[]) {
    this.#core = core;
    this.#call = call;
    this.name = name;
    this.args = args;
  }

  /**
   * Whether the call finished (ran, failed, or was refused by a closed queue).
   *
   * @returns True once finished.
   */
  done(): boolean {
    return this.#core.harvest(this.#call);
  }

  /**
   * The call's result, blocking until it finished.
   *
   * @param timeout Milliseconds to wait at most; no limit if undefined.
   * @returns The handler's return value, or `altReturn` for an error not raised in the caller.
   * @throws The handler's error (raise `"caller"` or `"both"`), `CallQueueClosed` if the queue
   * closed before the call ran, `QueueTimeout` on timeout.
   */
  result(timeout?: number): R {
    checkTimeout(timeout);
    const deadline = deadlineOf(timeout);
    // The owner usually answers within microseconds: poll before paying a futex sleep and wake.
    pollFor(() => this.#core.slotState(this.#call.slot) >= SLOT_READY, CALLER_POLL_MS);
    while (!this.done()) {
      const left = remaining(deadline);
      if (left === 0) {
        throw new QueueTimeout(`Cannot get the result of "${this.name}" within ${timeout} ms`);
      }
      const state = this.#core.slotState(this.#call.slot);
      if (isUnanswered(state)) {
        // Wake now and then to notice a finished queue, whose owner never answers.
        try {
          waitSync(this.#core.control, CQ_SLOT_BASE + this.#call.slot, state, Math.min(left, 100));
        } catch (error) {
          // This thread is being terminated (see Termination): leave the slot to the owner.
          this.#core.detach(this.#call);
          throw error;
        }
      }
    }
    return outcomeOf(this.#call, this.name) as R;
  }

  /**
   * The error the handler threw, whatever the raise mode.
   *
   * @returns The error, or undefined if the call succeeded or has not finished.
   */
  error(): unknown {
    if (!this.done()) return undefined;
    if (this.#call.state === "error") return this.#call.value;
    if (this.#call.state === "refused") {
      return new CallQueueClosed(
        `Cannot call "${this.name}" as the call queue was closed before it ran`,
      );
    }
    return undefined;
  }
}

/**
 * Calls into a busy thread (the CallQueue recipe). The owner (the thread that created it) holds
 * the handlers and runs pending calls when it calls `receive()` from its own loop, or keeps
 * serving them with `serve()`. Any thread holding the queue (passed as an argument, or rebuilt
 * with `CallQueue.from(handle)`) calls handlers by name; `call` blocks (Atomics.wait) until the
 * owner ran it and returns the result, `callAsync` does the same as a promise.
 *
 * Calls and results travel through shared memory with theta's codec: arguments and results may
 * be any structured-cloneable value. Arguments holding shared objects (queues, events, channel
 * ends) arrive revived too: the call goes through the ring and its arguments follow by message,
 * so such a call runs on an event-loop turn of the owner (`serve()`, or between `receive()` calls
 * of an async loop), and only from the owner's thread or the threads it started. Results cannot
 * hold shared objects.
 *
 * @typeParam H The handlers: names, arguments and results are typed through.
 *
 * @example A worker calls into the main thread, which serves
 * ```ts
 * import { CallQueue } from "@theta/theta/callqueue";
 * import { StoppableThread } from "@theta/theta/thread";
 * import assert from "node:assert/strict";
 *
 * const log: string[] = [];
 * const calls = new CallQueue({
 *   log: (line: string) => log.push(line),
 *   add: (a: number, b: number) => a + b,
 * });
 * const controller = new AbortController();
 * const serving = calls.serve({ signal: controller.signal });
 * const thread = new StoppableThread((_thread, calls: CallQueue<{
 *   log: (line: string) => number;
 *   add: (a: number, b: number) => number;
 * }>) => {
 *   calls.call("log", ["hello from the worker"]);
 *   return calls.call("add", [2, 3]); // blocks the worker, not the main thread
 * }, { args: [calls] }).start();
 * assert.equal(await thread.join(), 5);
 * controller.abort();
 * await serving;
 * assert.deepEqual(log, ["hello from the worker"]);
 * ```
 */
export class CallQueue<H extends Handlers = Handlers> {
  static {
    Shareables.register("CallQueue", (handle: CallQueueHandle) => CallQueue.from(handle));
  }

  /**
   * Rebuilds a call queue from its handle, in any thread: a caller of the same queue.
   *
   * @param handle A call queue's `handle`.
   * @returns The queue (without handlers: only its owner receives).
   * @throws {TypeError} If `handle` is not a call queue handle.
   */
  static from<H extends Handlers = Handlers>(handle: CallQueueHandle): CallQueue<H> {
    checkHandle(handle, "CallQueue");
    CallQueue.#reviving = handle;
    try {
      return new CallQueue<H>(undefined as unknown as H);
    } finally {
      CallQueue.#reviving = undefined;
    }
  }
  static #reviving: CallQueueHandle | undefined;

  readonly #core: CallQueueCore;
  readonly #handlers: H | undefined;
  readonly #collected: { item: CallItem; call: PendingCall }[] = [];
  #receiverError: { error: unknown } | undefined;
  /** Owner side: calls taken whose arguments (holding shared objects) are on their way. */
  readonly #awaitingArgs: Map<string, { slot: number; name: string; raiseHere: boolean }> =
    new Map();

  /**
   * Creates a call queue owned by this thread.
   *
   * @param handlers The functions callers may call, by name.
   * @param options Limits.
   * @throws {TypeError} If `handlers` is not an object of functions.
   * @throws {RangeError} If `maxSize` or `slots` is not a positive integer.
   */
  constructor(handlers: H, options: CallQueueOptions = {}) {
    const reviving = CallQueue.#reviving;
    if (reviving !== undefined) {
      this.#core = new CallQueueCore(reviving);
      this.#handlers = undefined;
      return;
    }
    if (typeof handlers !== "object" || handlers === null) {
      throw new TypeError(
        `Cannot create the call queue as handlers must be an object of functions: current value is ${handlers}`,
      );
    }
    for (const [name, handler] of Object.entries(handlers)) {
      if (typeof handler !== "function") {
        throw new TypeError(
          `Cannot create the call queue as handler "${name}" is not a function: current value is ${typeof handler}`,
        );
      }
    }
    const { maxSize, slots = DEFAULT_SLOTS } = options;
    if (
      maxSize !== undefined &&
      !(Number.isInteger(maxSize) && maxSize > 0 && maxSize <= MAX_RING_ITEMS)
    ) {
      throw new RangeError(
        `Cannot create the call queue as maxSize must be an integer from 1 to ${MAX_RING_ITEMS}: current value is ${maxSize}`,
      );
    }
    if (!(Number.isInteger(slots) && slots > 0 && slots <= 4096)) {
      throw new RangeError(
        `Cannot create the call queue as slots must be an integer from 1 to 4096: current value is ${slots}`,
      );
    }
    const handle: CallQueueHandle = {
      kind: "CallQueue",
      requests: Ring.create({ maxItems: maxSize ?? 0 }).handle,
      control: new SharedArrayBuffer((CQ_SLOT_BASE + slots) * 4),
      slots: Array.from(
        { length: slots },
        () => new SharedArrayBuffer(SLOT_INITIAL_BYTES, { maxByteLength: SLOT_MAX_BYTES }),
      ),
      names: Object.keys(handlers),
      owner: ArgsRoute.threadId,
      channel: crypto.randomUUID(),
    };
    this.#core = new CallQueueCore(handle);
    this.#handlers = handlers;
    ArgsRoute.owned.set(handle.channel, (token, args) => this.#onArgs(token, args));
  }

  /** The structured-cloneable description of this queue, for `CallQueue.from`. */
  get handle(): CallQueueHandle {
    return this.#core.handle;
  }

  /** @internal The handle, for argument revival. */
  get [SHAREABLE](): CallQueueHandle {
    return this.#core.handle;
  }

  /** Calls waiting to be received. */
  get pending(): number {
    return this.#core.requests.length;
  }

  /** Whether the queue refuses new calls. */
  get closed(): boolean {
    return this.#core.closed;
  }

  /**
   * Sends a call; its slot waits for the result. Arguments travel encoded in the ring; those
   * holding shared objects follow by message once the owner took the call (see ArgsRoute).
   */
  #send(
    name: string,
    args: readonly unknown[],
    raise: RaiseMode,
    altReturn: unknown,
    slot: number,
  ): PendingCall {
    const call = new PendingCall(slot, raise, altReturn);
    let status: number;
    try {
      let payload: Encoded | string;
      try {
        payload = new Encoded(encode(args, "args").slice());
      } catch (error) {
        if (!(error instanceof UncloneableError && error.needsMessage)) throw error;
        payload = this.#routeArgs(call, args, error);
      }
      status = this.#core.requests.tryPut(
        [slot, name, payload, raise === "receiver" || raise === "both"],
        false,
      );
    } catch (error) {
      this.#core.free(slot);
      throw error;
    }
    if (status === PUT_DONE) {
      this.#core.track(call);
      return call;
    }
    this.#core.free(slot);
    if (status === PUT_FULL) {
      throw new QueueFull(
        `Cannot call "${name}" as the call queue is full: ${this.pending} calls pending`,
      );
    }
    throw new CallQueueClosed(`Cannot call "${name}" as the call queue is closed`);
  }

  /**
   * Prepares `call` to send its arguments to the owner by message.
   *
   * @returns The token the owner will match them with.
   * @throws {TypeError} If the owner is neither this thread nor the one that started it.
   */
  #routeArgs(call: PendingCall, args: readonly unknown[], cause: UncloneableError): string {
    const { owner, channel } = this.#core.handle;
    const token = crypto.randomUUID();
    if (owner === ArgsRoute.threadId) {
      const deliver = ArgsRoute.owned.get(channel);
      const copy = [...args];
      call.post = () => queueMicrotask(() => deliver?.(token, copy));
    } else if (owner === ArgsRoute.parentId && ArgsRoute.toParent !== undefined) {
      const wire = toWire(args, "args");
      const toParent = ArgsRoute.toParent;
      call.post = () => toParent({ thetaCallArgs: { channel, token, args: wire } });
    } else {
      throw new TypeError(
        "Cannot send shared objects to this call queue's owner as it is neither this thread nor the one that started it: pass them to the owner another way",
        { cause },
      );
    }
    return token;
  }

  #check(name: string, args: readonly unknown[], options: CallOptions): RaiseMode {
    if (!this.#core.names.has(name)) {
      throw new TypeError(
        `Cannot call "${name}" as the call queue has no handler of that name: it has ${
          [...this.#core.names].join(", ") || "none"
        }`,
      );
    }
    if (!Array.isArray(args)) {
      throw new TypeError(
        `Cannot call "${name}" as args must be an array: current value is ${args}`,
      );
    }
    checkTimeout(options.timeout);
    const raise = options.raise ?? "caller";
    if (!["caller", "receiver", "both", "none"].includes(raise)) {
      throw new TypeError(
        `Cannot call "${name}" as raise must be "caller", "receiver", "both" or "none": current value is ${raise}`,
      );
    }
    if (this.#core.closed) {
      throw new CallQueueClosed(`Cannot call "${name}" as the call queue is closed`);
    }
    return raise;
  }

  /**
   * Claims a reply slot, first harvesting this caller's finished collected calls.
   *
   * @returns The slot, or the FREED_SEQ value to wait on (read before trying, so that a slot
   * freed meanwhile ends the wait at once) and how long.
   * @throws {QueueTimeout} If no slot came free before `deadline`.
   */
  #claimOrWait(deadline: number, name: string): number | { seq: number; wait: number } {
    const seq = Atomics.load(this.#core.control, CQ_FREED_SEQ);
    const slot = this.#tryClaim();
    if (slot >= 0) return slot;
    const left = remaining(deadline);
    if (left === 0) {
      throw new QueueTimeout(`Cannot call "${name}" as no reply slot came free in time`);
    }
    return { seq, wait: Math.min(left, 100) };
  }

  #claimSync(deadline: number, name: string): number {
    for (;;) {
      const claim = this.#claimOrWait(deadline, name);
      if (typeof claim === "number") return claim;
      waitSync(this.#core.control, CQ_FREED_SEQ, claim.seq, claim.wait);
    }
  }

  async #claimAsync(deadline: number, name: string, signal?: AbortSignal): Promise<number> {
    for (;;) {
      const claim = this.#claimOrWait(deadline, name);
      if (typeof claim === "number") return claim;
      await waitAsync(this.#core.control, CQ_FREED_SEQ, claim.seq, claim.wait, signal);
    }
  }

  #tryClaim(): number {
    const slot = this.#core.tryClaim();
    if (slot >= 0) return slot;
    this.#core.harvestAll(); // this thread's answered calls, collected or not
    return this.#core.tryClaim();
  }

  /**
   * Calls handler `name` in the owner's thread.
   *
   * @param name The handler's name.
   * @param args Its arguments.
   * @param options `wait`, `timeout`, `raise` and `altReturn`.
   * @returns The handler's result (or `altReturn`); with `wait: false`, a `CallItem` at once.
   * @throws {TypeError} If there is no such handler or an argument cannot be sent (naming its
   * path), or if a blocking call is made from the owner's own thread, which would never receive.
   * @throws {QueueFull} If `maxSize` calls are pending.
   * @throws {QueueTimeout} If the result did not come within `timeout` ms.
   * @throws {CallQueueClosed} If the queue is closed, or closed before the call ran.
   * @throws The handler's error, when raised in the caller.
   */
  call<K extends keyof H & string>(
    name: K,
    args: Parameters<H[K]>,
    options: CallOptions & { wait: false },
  ): CallItem<Awaited<ReturnType<H[K]>>>;
  /**
   * Calls handler `name` in the owner's thread and blocks until it ran.
   *
   * @param name The handler's name.
   * @param args Its arguments.
   * @param options `timeout`, `raise` and `altReturn`.
   * @returns The handler's result (or `altReturn`).
   * @throws Like the non-blocking form, and the handler's error when raised in the caller.
   */
  call<K extends keyof H & string>(
    name: K,
    args?: Parameters<H[K]>,
    options?: CallOptions & { wait?: true },
  ): Awaited<ReturnType<H[K]>>;
  call(
    name: string,
    args: readonly unknown[] = [],
    options: CallOptions = {},
  ): unknown {
    const raise = this.#check(name, args, options);
    const wait = options.wait ?? true;
    if (wait && this.#handlers !== undefined) {
      throw new TypeError(
        `Cannot call "${name}" with wait: true from the owner's thread, which would never receive it: use callAsync or wait: false`,
      );
    }
    const deadline = deadlineOf(options.timeout);
    const slot = this.#claimSync(deadline, name);
    const call = this.#send(name, args, raise, options.altReturn, slot);
    const item = new CallItem(this.#core, call, name, args);
    if (!wait) {
      this.#core.harvestInBackground();
      return item;
    }
    try {
      return item.result(remaining(deadline) === Infinity ? undefined : remaining(deadline));
    } catch (error) {
      if (error instanceof QueueTimeout && this.#core.abandon(call)) throw error;
      if (error instanceof QueueTimeout) return item.result();
      throw error;
    }
  }

  /**
   * Calls handler `name` in the owner's thread, without blocking this one.
   *
   * @param name The handler's name.
   * @param args Its arguments.
   * @param options `timeout`, `signal`, `raise` and `altReturn`.
   * @returns The handler's result (or `altReturn`).
   * @throws Like `call`, as rejections; the signal's reason if it aborts.
   */
  async callAsync<K extends keyof H & string>(
    name: K,
    args: Parameters<H[K]> = [] as unknown as Parameters<H[K]>,
    options: CallAsyncOptions = {},
  ): Promise<Awaited<ReturnType<H[K]>>> {
    const raise = this.#check(name, args, options);
    const { signal } = options;
    signal?.throwIfAborted();
    const deadline = deadlineOf(options.timeout);
    const slot = await this.#claimAsync(deadline, name, signal);
    const call = this.#send(name, args, raise, options.altReturn, slot);
    const core = this.#core;
    const index = CQ_SLOT_BASE + slot;
    try {
      while (!core.harvest(call)) {
        const left = remaining(deadline);
        if (left === 0) {
          throw new QueueTimeout(`Cannot get the result of "${name}" within ${options.timeout} ms`);
        }
        const state = core.slotState(slot);
        if (isUnanswered(state)) {
          await waitAsync(core.control, index, state, Math.min(left, 100), signal);
        }
      }
    } catch (error) {
      if (core.abandon(call)) throw error;
      while (!core.harvest(call)) await waitAsync(core.control, index, core.slotState(slot), 10);
    }
    return outcomeOf(call, name) as Awaited<ReturnType<H[K]>>;
  }

  /**
   * Calls without waiting and keeps the `CallItem` for `getNextCollected` (the recipe's
   * `call_and_collect`).
   *
   * @param name The handler's name.
   * @param args Its arguments.
   * @returns The call's item.
   * @throws Like `call` with `wait: false`.
   */
  callAndCollect<K extends keyof H & string>(
    name: K,
    args: Parameters<H[K]> = [] as unknown as Parameters<H[K]>,
  ): CallItem<Awaited<ReturnType<H[K]>>> {
    const raise = this.#check(name, args, {});
    const slot = this.#claimSync(Infinity, name);
    const call = this.#send(name, args, raise, undefined, slot);
    const item = new CallItem<Awaited<ReturnType<H[K]>>>(this.#core, call, name, args);
    this.#collected.push({ item, call });
    this.#core.harvestInBackground();
    return item;
  }

  /**
   * The next finished call among this caller's collected ones, in finishing order.
   *
   * @param timeout Milliseconds to wait at most; no limit if undefined.
   * @returns The item, or undefined if none is collected or none finished in time.
   * @throws {RangeError} If `timeout` is negative.
   */
  getNextCollected(timeout?: number): CallItem | undefined {
    checkTimeout(timeout);
    const deadline = deadlineOf(timeout);
    const control = this.#core.control;
    for (;;) {
      if (this.#collected.length === 0) return undefined;
      const seq = Atomics.load(control, CQ_DONE_SEQ);
      const index = this.#collected.findIndex(({ call }) => this.#core.harvest(call));
      if (index >= 0) return this.#collected.splice(index, 1)[0]!.item;
      const left = remaining(deadline);
      if (left === 0) return undefined;
      waitSync(control, CQ_DONE_SEQ, seq, Math.min(left, 100));
    }
  }

  /**
   * Owner side: runs every pending call, synchronously, in arrival order. An async handler's
   * result is sent when it settles.
   *
   * @returns How many calls ran.
   * @throws {TypeError} If this instance is not the owner.
   * @throws A handler's error, for a call made with raise `"receiver"` or `"both"`, after that
   * call was answered (the calls after it stay pending for the next `receive`).
   */
  receive(): number {
    const { count, failure } = this.#drain(true);
    if (failure !== undefined) throw failure.error;
    return count;
  }

  /**
   * Runs pending calls until none is left, or until a handler's error is to be raised here
   * (raise `"receiver"` or `"both"`) if `stopOnError`.
   *
   * @returns How many calls ran, and the first error to raise here, if any.
   */
  #drain(stopOnError: boolean): { count: number; failure: { error: unknown } | undefined } {
    const handlers = this.#ownerHandlers("receive");
    const requests = this.#core.requests;
    let count = 0;
    let failure: { error: unknown } | undefined;
    for (;;) {
      const request = requests.tryTake();
      if (request === NOTHING || request === ENDED) break;
      count++;
      this.#run(handlers, request as [number, string, unknown[], boolean]);
      if (this.#receiverError !== undefined) {
        failure ??= this.#receiverError;
        this.#receiverError = undefined;
        if (stopOnError) break;
      }
    }
    return { count, failure };
  }

  #ownerHandlers(what: string): H {
    if (this.#handlers === undefined) {
      throw new TypeError(
        `Cannot ${what} on this call queue as only its owner can, in its own thread`,
      );
    }
    return this.#handlers;
  }

  #run(
    handlers: H,
    [slot, name, payload, raiseHere]: [number, string, unknown[] | string, boolean],
  ): void {
    const core = this.#core;
    if (core.finished) {
      core.refuse(slot);
      return;
    }
    if (typeof payload === "string") {
      // Its arguments hold shared objects: wait for them (they come on an event-loop turn).
      if (core.beginAwaitingArgs(slot)) this.#awaitingArgs.set(payload, { slot, name, raiseHere });
      return;
    }
    if (!core.begin(slot)) return;
    this.#invoke(handlers, slot, name, payload, raiseHere);
  }

  /** A call's arguments arrived by message: run it now. */
  #onArgs(token: string, args: unknown[]): void {
    const waiting = this.#awaitingArgs.get(token);
    if (waiting === undefined) return;
    this.#awaitingArgs.delete(token);
    const { slot, name, raiseHere } = waiting;
    if (!this.#core.argsArrived(slot)) return; // the caller gave up
    this.#invoke(this.#handlers!, slot, name, args, raiseHere);
    if (this.#receiverError !== undefined) {
      const { error } = this.#receiverError;
      this.#receiverError = undefined;
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  /** Runs a taken call's handler and answers it. */
  #invoke(handlers: H, slot: number, name: string, args: unknown[], raiseHere: boolean): void {
    const core = this.#core;
    const fail = (error: unknown): void => {
      core.answer(slot, false, error);
      if (raiseHere) this.#receiverError = { error };
    };
    let result: unknown;
    try {
      const handler = handlers[name];
      if (typeof handler !== "function") {
        throw new TypeError(`Cannot call "${name}" as the call queue has no handler of that name`);
      }
      result = handler(...args);
    } catch (error) {
      fail(error);
      return;
    }
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === "function") {
      (result as PromiseLike<unknown>).then(
        (value) => core.answer(slot, true, value),
        (error) => {
          core.answer(slot, false, error);
          if (raiseHere) {
            queueMicrotask(() => {
              throw error;
            });
          }
        },
      );
    } else {
      core.answer(slot, true, result);
    }
  }

  /**
   * Owner side: receives calls as they arrive, without blocking the event loop, until the
   * signal aborts or the queue closes.
   *
   * @param options An abort signal.
   * @returns A promise that resolves when serving ends.
   * @throws {TypeError} If this instance is not the owner.
   * @throws A handler's error raised in the receiver (raise `"receiver"` or `"both"`).
   */
  async serve(options: ServeOptions = {}): Promise<void> {
    const handlers = this.#ownerHandlers("serve");
    const { signal } = options;
    const requests = this.#core.requests;
    while (!signal?.aborted && !this.#core.finished) {
      if (this.receive() > 0) continue;
      // A sleeping thread takes 10-40 us to wake; poll briefly first, as the pool does.
      if (pollFor(() => requests.length > 0)) continue;
      let request: unknown;
      try {
        request = await requests.takeAsync(undefined, signal);
      } catch (error) {
        if (signal?.aborted) return;
        throw error;
      }
      if (request === ENDED) return;
      this.#run(handlers, request as [number, string, unknown[], boolean]);
      if (this.#receiverError !== undefined) {
        const { error } = this.#receiverError;
        this.#receiverError = undefined;
        throw error;
      }
    }
  }

  /**
   * Owner side: refuses new calls; calls still queued are answered `CallQueueClosed`.
   *
   * @throws {TypeError} If this instance is not the owner.
   */
  close(): void {
    this.#ownerHandlers("close");
    this.#finish(false);
  }

  /**
   * Owner side: refuses new calls, then runs the ones already queued (the recipe's
   * `close_and_receive_last`). Every waiting caller is answered, even when a handler throws.
   *
   * @returns How many calls ran.
   * @throws {TypeError} If this instance is not the owner.
   * @throws The first handler error raised in the receiver (raise `"receiver"` or `"both"`),
   * once every call was answered and the queue is closed.
   */
  closeAndReceiveLast(): number {
    this.#ownerHandlers("close");
    return this.#finish(true);
  }

  #finish(runLast: boolean): number {
    const core = this.#core;
    Atomics.or(core.control, CQ_FLAGS, CQ_CLOSED);
    core.requests.stop();
    const { count, failure } = runLast ? this.#drain(false) : { count: 0, failure: undefined };
    Atomics.or(core.control, CQ_FLAGS, CQ_FINISHED);
    for (;;) {
      const request = core.requests.tryTake();
      if (request === NOTHING || request === ENDED) break;
      core.refuse((request as [number])[0]);
    }
    for (const { slot, name } of this.#awaitingArgs.values()) {
      if (!core.argsArrived(slot)) continue;
      core.answer(
        slot,
        false,
        new CallQueueClosed(`Cannot call "${name}" as the call queue was closed before it ran`),
      );
    }
    this.#awaitingArgs.clear();
    ArgsRoute.owned.delete(core.handle.channel);
    // Wake every waiting caller so it notices the finished queue.
    for (let slot = 0; slot < core.slots.length; slot++) {
      Atomics.notify(core.control, CQ_SLOT_BASE + slot);
    }
    Atomics.add(core.control, CQ_DONE_SEQ, 1);
    Atomics.notify(core.control, CQ_DONE_SEQ);
    if (failure !== undefined) throw failure.error;
    return count;
  }

  /** Closes the queue (owner) or does nothing (callers). */
  [Symbol.dispose](): void {
    if (this.#handlers !== undefined && !this.#core.finished) this.close();
  }
}
