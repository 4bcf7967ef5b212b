// Copyright theta authors. MIT license.
// The worker side of pools and threads: what runs inside every theta Worker.
//
// A pool worker blocks on its own request ring (Atomics.wait: no event-loop hop between tasks),
// runs each task, and puts the reply on its own reply ring, then rings the pool's doorbell (one
// Int32 the main thread waits on with Atomics.waitAsync). Replies per worker, not one shared ring:
// a worker terminated mid-reply (timeout, abort) could otherwise die holding a shared lock.
//
// `self.close()` and `Deno.exit()` fire nothing on the owner in Deno, so both are wrapped to
// report the exit through the reply ring first.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and import only bundled modules.

import { decode, Encoded, encodeOutcome, UncloneableError } from "./_codec.ts";
import { Termination, waitSync } from "./_futex.ts";
import { ENDED, Ring, type RingHandle } from "./_ring.ts";
import { fromWire, toWire } from "./_shareable.ts";
import { Event, type EventHandle } from "./sync.ts";
import { ArgsRoute } from "./_callqueue_slots.ts";

/** Request kinds: `[kind, id, ref, source, args, mode, ticket]`. */
export const REQUEST_CALL = 0;
/** The arguments come by postMessage (shareables, transfers): `{ id, args }`. */
export const REQUEST_BY_MESSAGE = 1;
export const REQUEST_QUIT = 2;

/** Call modes: the task once with `args`, or the task on each item of `args[0]`. */
export const MODE_ONCE = 0;
export const MODE_EACH = 1;

/** Reply kinds: `[kind, id, value]`. */
export const REPLY_OK = 0;
export const REPLY_ERROR = 1;
export const REPLY_START_FAILED = 3;
export const REPLY_EXITED = 4;
/** The result comes by postMessage (it holds shareables): `{ id, result }`. */
export const REPLY_BY_MESSAGE = 5;

/**
 * A worker's tickets: one Int32 per task sent to it and not yet finished (prefetch). The main
 * thread writes the task's id; the worker claims it with compare-exchange id -> -id before running
 * it; the main thread cancels or steals it back with id -> 0. Exactly one of them wins, so a task
 * sent ahead either runs or is cancelled, never both, and a crashed worker's running task is the
 * one whose ticket is negative.
 */
export const PREFETCH = 4;

/**
 * How long an idle pool worker polls its request ring before sleeping, in ms. A caller awaiting
 * one task at a time sends the next a few microseconds after the last result, while waking a
 * sleeping worker costs 10-40 us on a small VM: polling briefly keeps sequential tasks fast, at
 * the price of a tenth of a millisecond of CPU after each burst.
 */
export const WORKER_SPIN_MS = 0.1;
/** After the tickets, the worker's kill word (see Termination in _futex.ts). */
export const STATE_KILL = PREFETCH;
export const STATE_BYTES = (PREFETCH + 1) * 4;

/** Words of a pool's doorbell: a sequence bumped on replies, and whether the pump sleeps. */
export const BELL_SEQ = 0;
export const BELL_WAITING = 1;
export const BELL_BYTES = 8;

/** What a pool sends a new worker. */
export interface PoolWorkerInit {
  role: "pool";
  requests: RingHandle;
  replies: RingHandle;
  state: SharedArrayBuffer;
  bell: SharedArrayBuffer;
  module: string | undefined;
}

/** The parts of the worker global theta uses. */
export interface WorkerScope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
  close(): void;
}

/** Wakes the pool's pump if it sleeps (see the Dekker note in _ring.ts). */
export function ringBell(bell: Int32Array): void {
  if (Atomics.load(bell, BELL_WAITING) !== 0) {
    Atomics.add(bell, BELL_SEQ, 1);
    Atomics.notify(bell, BELL_SEQ);
  }
}

/** Arguments and values that arrive by postMessage, by task id. */
export class Mailbox {
  static readonly arrived: Map<number, unknown> = new Map();
  static readonly waiting: Map<number, (value: unknown) => void> = new Map();
  static readonly discarded: Set<number> = new Set();

  static deliver(id: number, value: unknown): void {
    if (Mailbox.discarded.delete(id)) return;
    const waiter = Mailbox.waiting.get(id);
    if (waiter === undefined) {
      Mailbox.arrived.set(id, value);
    } else {
      Mailbox.waiting.delete(id);
      waiter(value);
    }
  }

  /** Drops the message of a task that will not run (cancelled before it started). */
  static discard(id: number): void {
    if (!Mailbox.arrived.delete(id)) Mailbox.discarded.add(id);
  }

  static receive(id: number): Promise<unknown> {
    if (Mailbox.arrived.has(id)) {
      const value = Mailbox.arrived.get(id);
      Mailbox.arrived.delete(id);
      return Promise.resolve(value);
    }
    return new Promise((resolve) => Mailbox.waiting.set(id, resolve));
  }
}

/**
 * Turns a function's source text back into a function, in the worker's global scope. Method
 * shorthand (`run(x) {}`) becomes a function expression.
 *
 * @throws {TypeError} If the source does not compile to a function.
 */
export function compileFunction(source: string): (...args: unknown[]) => unknown {
  const expression = /^(async\s*)?(function\b|\(|[\w$]+\s*=>)/.test(source)
    ? source
    : source.startsWith("async ")
    ? `async function ${source.slice(6)}`
    : `function ${source}`;
  let compiled: unknown;
  try {
    compiled = (0, eval)(`(${expression}\n)`);
  } catch (error) {
    throw new TypeError(
      `Cannot compile the task function: it must be self-contained source (no closures, no native or bound functions): ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  if (typeof compiled !== "function") {
    throw new TypeError("Cannot run the task as its source is not a function");
  }
  return compiled as (...args: unknown[]) => unknown;
}

/** True for promises and other thenables. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}

/** Calls `fn` with `args`, awaiting only if it returned a thenable. */
export async function invoke(
  fn: (...args: unknown[]) => unknown,
  args: unknown[],
): Promise<unknown> {
  const result = fn(...args);
  return isThenable(result) ? await result : result;
}

/** Calls `fn` on each item of `items`, in order, and collects the results. */
export async function invokeEach(
  fn: (...args: unknown[]) => unknown,
  items: unknown[],
): Promise<unknown[]> {
  const results = new Array<unknown>(items.length);
  for (let i = 0; i < items.length; i++) results[i] = await invoke(fn, [items[i]]);
  return results;
}

/**
 * Wraps `close()` and `Deno.exit()` so that `onExit` runs first: Deno tells the owner nothing
 * when a worker closes itself.
 *
 * @returns A function that closes the worker without reporting (the normal end).
 */
export function installExitHooks(scope: WorkerScope, onExit: () => void): () => void {
  const close = scope.close.bind(scope);
  let reported = false;
  const report = (): void => {
    if (reported) return;
    reported = true;
    onExit();
  };
  scope.close = () => {
    report();
    close();
  };
  const deno = (globalThis as { Deno?: { exit?: (code?: number) => never } }).Deno;
  if (deno?.exit !== undefined) {
    const exit = deno.exit.bind(deno);
    try {
      Object.defineProperty(deno, "exit", {
        value: (code?: number) => {
          report();
          exit(code);
        },
        configurable: true,
        writable: true,
      });
    } catch {
      // A frozen Deno namespace: exits then surface as a crash by the error event, if any.
    }
  }
  return () => {
    reported = true;
    close();
  };
}

/** One pool worker's loop. */
export class PoolWorker {
  readonly scope: WorkerScope;
  readonly requests: Ring;
  readonly replies: Ring;
  readonly state: Int32Array;
  readonly bell: Int32Array;
  readonly functions: Map<number, (...args: unknown[]) => unknown> = new Map();
  /** Sources seen but not compiled yet: a function's source comes once, with its first task. */
  readonly sources: Map<number, string> = new Map();
  module: Record<string, unknown> | undefined;

  constructor(scope: WorkerScope, init: PoolWorkerInit) {
    this.scope = scope;
    this.requests = new Ring(init.requests);
    this.replies = new Ring(init.replies);
    this.state = new Int32Array(init.state);
    Termination.word = new Int32Array(init.state, STATE_KILL * 4, 1);
    this.bell = new Int32Array(init.bell);
  }

  /** The id of the task this worker runs now (its claimed ticket), or 0. */
  running(): number {
    for (let i = 0; i < PREFETCH; i++) {
      const value = Atomics.load(this.state, i);
      if (value < 0) return -value;
    }
    return 0;
  }

  reply(kind: number, id: number, value: unknown): void {
    this.replies.put([kind, id, value], undefined, "the task's result");
    ringBell(this.bell);
  }

  /** Sends a task's outcome, by the ring when it can travel there, else by postMessage. */
  settle(id: number, ok: boolean, value: unknown): void {
    try {
      this.reply(ok ? REPLY_OK : REPLY_ERROR, id, value); // the common case, encoded in place
      return;
    } catch (error) {
      if (!(error instanceof UncloneableError)) throw error;
    }
    const outcome = encodeOutcome(ok, value, "the task's result");
    if (outcome.needsMessage) {
      this.scope.postMessage({ id, result: toWire(value, "the task's result") });
      this.reply(REPLY_BY_MESSAGE, id, undefined);
    } else {
      const kind = outcome.ok ? REPLY_OK : REPLY_ERROR;
      this.reply(kind, id, new Encoded(outcome.bytes.slice()));
    }
  }

  resolve(ref: number | string, source: string | undefined): (...args: unknown[]) => unknown {
    if (typeof ref === "string") {
      const fn = this.module?.[ref];
      if (typeof fn !== "function") {
        throw new TypeError(
          this.module === undefined
            ? `Cannot run task "${ref}" as the pool has no module: pass { module } to the Pool`
            : `Cannot run task "${ref}" as the pool's module has no function export of that name`,
        );
      }
      return fn as (...args: unknown[]) => unknown;
    }
    let fn = this.functions.get(ref);
    if (fn === undefined) {
      fn = compileFunction(source ?? this.sources.get(ref)!);
      this.functions.set(ref, fn);
      this.sources.delete(ref);
    }
    return fn;
  }

  async start(module: string | undefined): Promise<void> {
    const quit = installExitHooks(this.scope, () => {
      this.reply(REPLY_EXITED, this.running(), undefined);
    });
    if (module !== undefined) {
      try {
        this.module = await import(module);
      } catch (error) {
        this.settleStart(error);
        quit();
        return;
      }
    }
    try {
      await this.loop();
    } catch (error) {
      if (!Termination.requested()) throw error;
    }
    quit();
  }

  settleStart(error: unknown): void {
    const outcome = encodeOutcome(false, error, "the start error");
    this.reply(REPLY_START_FAILED, 0, new Encoded(outcome.bytes.slice()));
  }

  async loop(): Promise<void> {
    for (;;) {
      const request = this.requests.take(undefined, WORKER_SPIN_MS);
      if (request === ENDED) return;
      const [kind, id, ref, source, args, mode, ticket] = request as [
        number,
        number,
        number | string,
        string | undefined,
        unknown[],
        number,
        number,
      ];
      if (kind === REQUEST_QUIT) return;
      // Keep the source even if this task was cancelled: later tasks of the function omit it.
      if (source !== undefined && typeof ref === "number") this.sources.set(ref, source);
      // Claim the task; if the main thread cancelled or moved it, skip it.
      if (Atomics.compareExchange(this.state, ticket, id, -id) !== id) {
        if (kind === REQUEST_BY_MESSAGE) Mailbox.discard(id);
        continue;
      }
      let ok = true;
      let value: unknown;
      try {
        const fn = this.resolve(ref, source);
        const input = kind === REQUEST_BY_MESSAGE ? (await Mailbox.receive(id)) as unknown[] : args;
        value = mode === MODE_EACH
          ? await invokeEach(fn, input[0] as unknown[])
          : await invoke(fn, input);
      } catch (error) {
        ok = false;
        value = error;
      }
      Atomics.store(this.state, ticket, 0);
      this.settle(id, ok, value);
    }
  }
}

/** Where a thread's code comes from: a function's source, or a module's named export. */
export type TargetSpec = { source: string } | { module: string; export: string };

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

/**
 * Loads a thread's target.
 *
 * @throws {TypeError} If the source does not compile or the export is not a function.
 */
export async function loadTarget(spec: TargetSpec): Promise<(...args: unknown[]) => unknown> {
  if ("source" in spec) return compileFunction(spec.source);
  const module = await import(spec.module) as Record<string, unknown>;
  const fn = module[spec.export];
  if (typeof fn !== "function") {
    throw new TypeError(
      `Cannot run export "${spec.export}" of ${spec.module} as it is not a function: current value is ${typeof fn}`,
    );
  }
  return fn as (...args: unknown[]) => unknown;
}

/** The reason a thread's signal aborts with. */
export function stopReason(): DOMException {
  return new DOMException("The thread was asked to stop", "AbortError");
}

/** The `ThreadContext` a target receives, in its worker. */
export class WorkerContext {
  readonly stopEvent: Event;
  readonly name: string;
  #signal: AbortSignal | undefined;
  #watch: AbortController | undefined;

  constructor(stopEvent: Event, name: string) {
    this.stopEvent = stopEvent;
    this.name = name;
  }

  running(): boolean {
    return !this.stopEvent.isSet();
  }

  stopped(): boolean {
    return this.stopEvent.isSet();
  }

  wait(timeout?: number): boolean {
    return this.stopEvent.wait(timeout);
  }

  waitAsync(timeout?: number): Promise<boolean> {
    return this.stopEvent.waitAsync(timeout);
  }

  /** Aborts when stop is requested. Made on first use: watching the event holds a timer. */
  get signal(): AbortSignal {
    if (this.#signal !== undefined) return this.#signal;
    const controller = new AbortController();
    this.#signal = controller.signal;
    if (this.stopped()) {
      controller.abort(stopReason());
    } else {
      const watch = this.#watch = new AbortController();
      this.stopEvent.waitAsync({ signal: watch.signal }).then(
        () => controller.abort(stopReason()),
        () => {},
      );
    }
    return this.#signal;
  }

  /** Ends the signal's watch, so the worker can close. */
  dispose(): void {
    this.#watch?.abort();
  }
}

/** A thread's status word: running, then done once its target settled. */
export const THREAD_RUNNING = 0;
export const THREAD_DONE = 1;
/** A thread's status block: its status word, then its kill word (see Termination). */
export const THREAD_KILL = 1;
export const THREAD_STATUS_BYTES = 8;

/** What a StoppableThread sends its worker. */
export interface ThreadWorkerInit {
  role: "thread";
  target: TargetSpec;
  args: unknown;
  stop: EventHandle;
  status: SharedArrayBuffer;
  name: string;
}

/** Runs a StoppableThread's target once, posts `{ kind: "done", outcome }`, and closes. */
export async function runThread(scope: WorkerScope, init: ThreadWorkerInit): Promise<void> {
  const status = new Int32Array(init.status);
  Termination.word = new Int32Array(init.status, THREAD_KILL * 4, 1);
  const finish = (): void => {
    Atomics.store(status, 0, THREAD_DONE);
    Atomics.notify(status, 0);
  };
  const quit = installExitHooks(scope, () => {
    finish();
    scope.postMessage({ kind: "exited" });
  });
  const context = new WorkerContext(Event.from(init.stop), init.name);
  let outcome: Outcome;
  try {
    const fn = await loadTarget(init.target);
    const value = await invoke(fn, [context, ...(fromWire(init.args) as unknown[])]);
    outcome = packOutcome(true, value, "the thread's result");
  } catch (error) {
    outcome = packOutcome(false, error, "the thread's error");
  }
  context.dispose();
  finish();
  scope.postMessage({ kind: "done", outcome });
  quit();
}

/** Words of a Periodic's control block (Int32), then its settings (Float64 from byte 16). */
export const PERIODIC_STARTED = 0;
export const PERIODIC_KILLED = 1;
export const PERIODIC_SEQ = 2;
export const PERIODIC_PERIOD = 0;
export const PERIODIC_MIN_WAIT = 1;
export const PERIODIC_CONTROL_BYTES = 32;

/** Slots of a Periodic's stats block (Float64). */
export const STAT_COUNT = 0;
export const STAT_ERRORS = 1;
export const STAT_DELAY = 2;
export const STAT_ACC_DELAY = 3;
export const STAT_USAGE = 4;
export const STAT_NEXT = 5;
export const STAT_LAST = 6;
export const STAT_SLOTS = 7;

/** What a Periodic sends its worker. */
export interface PeriodicWorkerInit {
  role: "periodic";
  target: TargetSpec;
  args: unknown;
  stop: EventHandle;
  control: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  name: string;
  reportResults: boolean;
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across threads. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * A Periodic's worker loop. Between runs it blocks on the control word (Atomics.wait), so start,
 * stop, kill and period changes take effect at once, with no message to process. The schedule
 * compensates for the target's run time: the next start is the previous scheduled start plus the
 * period, or, when that is already past, the end of the run plus `minWait`.
 */
export async function runPeriodic(scope: WorkerScope, init: PeriodicWorkerInit): Promise<void> {
  const control = new Int32Array(init.control, 0, 4);
  const settings = new Float64Array(init.control, 16, 2);
  const stats = new Float64Array(init.stats);
  // Killed means killed: a run still blocked in a wait when kill() gives up on it ends there.
  Termination.word = new Int32Array(init.control, PERIODIC_KILLED * 4, 1);
  const quit = installExitHooks(scope, () => scope.postMessage({ kind: "exited" }));
  const context = new WorkerContext(Event.from(init.stop), init.name);
  let fn: (...args: unknown[]) => unknown;
  let args: unknown[];
  try {
    fn = await loadTarget(init.target);
    args = [context, ...(fromWire(init.args) as unknown[])];
  } catch (error) {
    scope.postMessage({ kind: "failed", outcome: packOutcome(false, error, "the error") });
    quit();
    return;
  }
  try {
    await periodicLoop(control, settings, stats, fn, args, scope, init.reportResults);
  } catch (error) {
    if (!Termination.requested()) throw error;
  }
  context.dispose();
  scope.postMessage({ kind: "ended" });
  quit();
}

/** The schedule of runPeriodic: runs until killed. */
export async function periodicLoop(
  control: Int32Array,
  settings: Float64Array,
  stats: Float64Array,
  fn: (...args: unknown[]) => unknown,
  args: unknown[],
  scope: WorkerScope,
  reportResults: boolean,
): Promise<void> {
  let scheduled = NaN; // the last run's scheduled start; NaN: run as soon as started
  let floor = -Infinity; // the last run's end plus minWait
  let firstStart = NaN;
  let busy = 0;
  for (;;) {
    const seq = Atomics.load(control, PERIODIC_SEQ);
    if (Atomics.load(control, PERIODIC_KILLED) !== 0) break;
    if (Atomics.load(control, PERIODIC_STARTED) === 0) {
      scheduled = NaN;
      stats[STAT_NEXT] = NaN;
      waitSync(control, PERIODIC_SEQ, seq, Infinity);
      continue;
    }
    const now = epochNow();
    // Read the period each time: a change applies to the run being waited for.
    const next = Number.isNaN(scheduled)
      ? now
      : Math.max(scheduled + settings[PERIODIC_PERIOD]!, floor);
    stats[STAT_NEXT] = next;
    if (now < next) {
      waitSync(control, PERIODIC_SEQ, seq, next - now);
      continue;
    }
    if (Number.isNaN(firstStart)) firstStart = now;
    scheduled = next;
    stats[STAT_DELAY] = now - next;
    stats[STAT_ACC_DELAY] = stats[STAT_ACC_DELAY]! + (now - next);
    stats[STAT_LAST] = now;
    let ok = true;
    let value: unknown;
    try {
      value = await invoke(fn, args);
    } catch (error) {
      ok = false;
      value = error;
    }
    const end = epochNow();
    busy += end - now;
    stats[STAT_COUNT] = stats[STAT_COUNT]! + 1;
    if (!ok) stats[STAT_ERRORS] = stats[STAT_ERRORS]! + 1;
    stats[STAT_USAGE] = end > firstStart ? busy / (end - firstStart) : 0;
    floor = end + settings[PERIODIC_MIN_WAIT]!;
    if (!ok || reportResults) {
      scope.postMessage({
        kind: "result",
        outcome: packOutcome(ok, value, ok ? "the periodic result" : "the periodic error"),
      });
    }
  }
}

/** What a PollingMap sends its worker. */
export interface PollingWorkerInit {
  role: "polling";
  read: TargetSpec;
  write: TargetSpec | undefined;
}

/** Messages a PollingMap sends its worker after init. */
export type PollingRequest =
  | { kind: "poll"; id: number; key: unknown; period: number }
  | { kind: "unpoll"; id: number }
  | { kind: "refresh"; id: number; key: unknown; request: number }
  | { kind: "set"; key: unknown; value: unknown; request: number };

/**
 * A PollingMap's worker: polls each key on its own timer and answers refresh and set requests.
 * It runs on its event loop, not blocking waits, since read and write may be async and requests
 * arrive as messages.
 */
export class PollingWorker {
  readonly scope: WorkerScope;
  readonly timers: Map<number, ReturnType<typeof setTimeout>> = new Map();
  readonly functions: Promise<
    { read: (...args: unknown[]) => unknown; write?: (...args: unknown[]) => unknown }
  >;

  constructor(scope: WorkerScope, init: PollingWorkerInit) {
    this.scope = scope;
    this.functions = (async () => {
      const read = await loadTarget(init.read);
      return init.write === undefined ? { read } : { read, write: await loadTarget(init.write) };
    })();
    this.functions.catch(() => {}); // Reported through each read and request.
    // The owner ends this worker with terminate(); the hooks only report a read or write that
    // closes it.
    installExitHooks(scope, () => scope.postMessage({ kind: "exited" }));
  }

  async read(key: unknown): Promise<Outcome> {
    try {
      const { read } = await this.functions;
      return packOutcome(true, await invoke(read, [key]), "the polled value");
    } catch (error) {
      return packOutcome(false, error, "the read error");
    }
  }

  async write(key: unknown, value: unknown): Promise<Outcome> {
    try {
      const { write } = await this.functions;
      if (write === undefined) {
        throw new TypeError("Cannot set a value as the PollingMap has no write function");
      }
      return packOutcome(true, await invoke(write, [key, value]), "the write result");
    } catch (error) {
      return packOutcome(false, error, "the write error");
    }
  }

  poll(id: number, key: unknown, period: number): void {
    const due = epochNow();
    const tick = async (scheduled: number): Promise<void> => {
      const outcome = await this.read(key);
      if (!this.timers.has(id)) return; // unpolled while reading
      this.scope.postMessage({ kind: "value", id, outcome, time: epochNow() });
      const next = Math.max(scheduled + period, epochNow());
      this.timers.set(id, setTimeout(() => tick(next), next - epochNow()));
    };
    this.timers.set(id, setTimeout(() => tick(due), 0));
  }

  unpoll(id: number): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  async handle(message: PollingRequest): Promise<void> {
    switch (message.kind) {
      case "poll":
        this.unpoll(message.id);
        this.poll(message.id, message.key, message.period);
        return;
      case "unpoll":
        this.unpoll(message.id);
        return;
      case "refresh": {
        const outcome = await this.read(message.key);
        this.scope.postMessage({
          kind: "reply",
          request: message.request,
          id: message.id,
          outcome,
          time: epochNow(),
        });
        return;
      }
      case "set": {
        const outcome = await this.write(message.key, message.value);
        this.scope.postMessage({ kind: "reply", request: message.request, outcome });
        return;
      }
    }
  }
}

/** The worker's entry point: waits for its init message, then runs its role. */
export function runtimeMain(): void {
  const scope = globalThis as unknown as WorkerScope;
  scope.onmessage = (event: MessageEvent) => {
    ArgsRoute.parentId = (event.data as { parent?: string }).parent;
    ArgsRoute.toParent = (message) => scope.postMessage(message);
    const init = event.data as
      | PoolWorkerInit
      | ThreadWorkerInit
      | PeriodicWorkerInit
      | PollingWorkerInit;
    scope.onmessage = (message: MessageEvent) => {
      const { id, args } = message.data as { id: number; args: unknown };
      Mailbox.deliver(id, fromWire(args));
    };
    switch (init.role) {
      case "pool":
        new PoolWorker(scope, init).start(init.module);
        return;
      case "thread":
        runThread(scope, init);
        return;
      case "periodic":
        runPeriodic(scope, init);
        return;
      case "polling": {
        const worker = new PollingWorker(scope, init);
        scope.onmessage = (message: MessageEvent) => worker.handle(message.data);
        return;
      }
    }
  };
}
