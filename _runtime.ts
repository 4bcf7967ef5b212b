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

import { UncloneableError } from "./_codec.ts";
import { ENDED, Ring, type RingHandle } from "./_ring.ts";
import { fromWire, toWire } from "./_shareable.ts";

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
export const REPLY_READY = 2;
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
export const STATE_BYTES = PREFETCH * 4;

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

/** A sendable version of a thrown value whose own encoding failed. */
export function plainError(error: unknown): Error {
  const source = error instanceof Error ? error : new Error(String(error));
  const plain = new Error(source.message);
  plain.name = source.name;
  plain.stack = source.stack ?? "";
  return plain;
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
      this.reply(ok ? REPLY_OK : REPLY_ERROR, id, value);
    } catch (error) {
      if (!(error instanceof UncloneableError)) throw error;
      if (ok && error.needsMessage) {
        this.scope.postMessage({ id, result: toWire(value, "the task's result") });
        this.reply(REPLY_BY_MESSAGE, id, undefined);
      } else if (ok) {
        this.reply(REPLY_ERROR, id, new TypeError(error.message));
      } else {
        this.reply(REPLY_ERROR, id, plainError(value));
      }
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
    this.reply(REPLY_READY, 0, undefined);
    await this.loop();
    quit();
  }

  settleStart(error: unknown): void {
    try {
      this.reply(REPLY_START_FAILED, 0, error);
    } catch {
      this.reply(REPLY_START_FAILED, 0, plainError(error));
    }
  }

  async loop(): Promise<void> {
    for (;;) {
      const request = this.requests.take();
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

/** The worker's entry point: waits for its init message, then runs its role. */
export function runtimeMain(): void {
  const scope = globalThis as unknown as WorkerScope;
  scope.onmessage = (event: MessageEvent) => {
    const init = event.data as PoolWorkerInit;
    scope.onmessage = (message: MessageEvent) => {
      const { id, args } = message.data as { id: number; args: unknown };
      Mailbox.deliver(id, fromWire(args));
    };
    if (init.role === "pool") {
      new PoolWorker(scope, init).start(init.module);
    }
  };
}
