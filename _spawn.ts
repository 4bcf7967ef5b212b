// Copyright theta authors. MIT license.
// The main-thread side of spawning theta workers: the bundled worker source (see _bundle.ts; the worker side is _worker/),
// made into a blob URL once per process on first use, never at import time (an isolate without
// Worker or eval, such as Deno Deploy, can import theta safely).

import * as errors from "./_errors.ts";
import * as codec from "./_codec.ts";
import * as signalWatch from "./_signal_watch.ts";
import * as futex from "./_futex.ts";
import { KILL_DONE, KILL_NOW, KILL_REQUESTED, unrefTimer } from "./_futex.ts";
import * as ring from "./_ring.ts";
import * as shareable from "./_shareable.ts";
import * as checks from "./_checks.ts";
import * as held from "./_held.ts";
import * as sync from "./sync.ts";
import * as queue from "./queue.ts";
import * as callqueueSlots from "./_callqueue_slots.ts";
import * as callqueue from "./callqueue.ts";
import * as channel from "./channel.ts";
import * as poolProtocol from "./_pool/protocol.ts";
import * as threadProtocol from "./_thread/protocol.ts";
import * as exitHooks from "./_worker/exit_hooks.ts";
import * as idle from "./_worker/idle.ts";
import * as mailbox from "./_pool/mailbox.ts";
import * as taskContextModule from "./_pool/task_context.ts";
import * as taskFunction from "./_worker/task_function.ts";
import * as outcome from "./_worker/outcome.ts";
import * as context from "./_worker/context.ts";
import * as poolWorker from "./_worker/pool_worker.ts";
import * as threadWorker from "./_worker/thread_worker.ts";
import * as periodicWorker from "./_worker/periodic_worker.ts";
import * as pollingWorker from "./_worker/polling_worker.ts";
import * as workerMain from "./_worker/main.ts";
import { bundleSource } from "./_bundle.ts";
import { ArgsRoute } from "./_callqueue_slots.ts";
import { NodeThread, type WorkerLike } from "./_node_thread.ts";

let workerUrl: string | undefined;
let source: string | undefined;

/** Options for {@linkcode spawnWorker}. */
export interface SpawnOptions {
  /** A heap limit in MiB: the worker runs on node:worker_threads (see _node_thread.ts). */
  maxMemoryMb?: number | undefined;
}

/**
 * Whether theta's workers can run here: `"ok"` in Deno with Worker; `"no-worker"` where Worker is
 * missing (Deno Deploy, eval-free isolates: tasks run inline); `"not-deno"` on Bun, Node and
 * browsers, whose Workers do not block in Atomics.wait and load blob modules the way theta's
 * runtime needs (a pool there would spin instead of failing).
 */
export function workerSupport(): "ok" | "no-worker" | "not-deno" {
  const scope = globalThis as { Worker?: unknown; Deno?: { version?: { deno?: string } } };
  if (typeof scope.Worker !== "function") return "no-worker";
  return typeof scope.Deno?.version?.deno === "string" ? "ok" : "not-deno";
}

/** True if this runtime can start theta's workers. */
export function canSpawnWorkers(): boolean {
  return workerSupport() === "ok";
}

/** The cores to plan for: `navigator.hardwareConcurrency`, or 1 where it is missing. */
export function cores(): number {
  const count = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
    ?.hardwareConcurrency;
  return typeof count === "number" && count > 0 ? count : 1;
}

/**
 * The source text of a self-contained function, to run in a worker.
 *
 * @param fn The function.
 * @param what What it is, for the error ("a task", "the thread's target").
 * @returns Its source.
 * @throws {TypeError} If `fn` is native or bound: it has no source to send.
 */
export function functionSource(fn: (...args: never[]) => unknown, what: string): string {
  const source = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw new TypeError(
      `Cannot run a native or bound function as ${what}: pass a self-contained function`,
    );
  }
  return source;
}

/**
 * Where a module target lives and which export runs: a `#name` fragment on the URL names the
 * export (and is dropped, so every target of one module shares one module instance).
 *
 * @param target The module's URL or specifier.
 * @param exportName The export, when the URL has no fragment.
 * @returns The module to import and the export to call.
 * @throws {TypeError} If `target` is not an absolute URL.
 */
export function moduleTarget(
  target: URL | string,
  exportName: string,
): { module: string; export: string } {
  let url: URL;
  try {
    url = new URL(String(target));
  } catch {
    throw new TypeError(
      `Cannot load the module as its specifier is not an absolute URL: current value is ${target} (pass new URL("./file.ts", import.meta.url))`,
    );
  }
  const fragment = decodeURIComponent(url.hash.slice(1));
  url.hash = "";
  return { module: url.href, export: fragment === "" ? exportName : fragment };
}

/** The source every theta worker runs. */
export function workerSource(): string {
  return bundleSource(
    [
      errors,
      codec,
      signalWatch,
      futex,
      ring,
      shareable,
      checks,
      held,
      sync,
      queue,
      callqueueSlots,
      callqueue,
      channel,
      poolProtocol,
      threadProtocol,
      exitHooks,
      idle,
      mailbox,
      taskContextModule,
      taskFunction,
      outcome,
      context,
      poolWorker,
      threadWorker,
      periodicWorker,
      pollingWorker,
      workerMain,
    ],
    "runtimeMain();",
  );
}

/**
 * Fails early where there is no Worker (Deno Deploy), saying what to use instead.
 *
 * @param what Who needs a worker ("the thread \"x\"").
 * @throws {TypeError} If this runtime has no Worker.
 */
export function requireWorkers(what: string): void {
  const support = workerSupport();
  if (support === "not-deno") {
    throw new TypeError(
      `Cannot start ${what} as theta's workers run on Deno only (2.x): this runtime is not Deno (Bun and Node are not supported; new Pool() without size runs tasks inline)`,
    );
  }
  if (support === "no-worker") {
    throw new TypeError(
      `Cannot start ${what} as this runtime has no Worker (on Deno Deploy, run tasks inline with new Pool() or as background jobs with KvPool)`,
    );
  }
}

/**
 * Starts a theta worker and sends it `init`.
 *
 * @param init The worker's role and shared memory.
 * @param name The worker's name, shown in errors and the inspector.
 * @param what Who needs the worker, for the error where Worker is missing.
 * @returns The worker.
 * @throws {TypeError} If this runtime has no Worker.
 */
export function spawnWorker(
  init: unknown,
  name: string,
  what: string,
  options: SpawnOptions = {},
): WorkerLike {
  requireWorkers(what);
  let worker: WorkerLike;
  source ??= workerSource();
  if (options.maxMemoryMb === undefined) {
    workerUrl ??= URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    worker = new Worker(workerUrl, { type: "module", name });
  } else {
    // A Web Worker out of memory aborts the process; a node:worker_threads one ends alone.
    worker = new NodeThread(source, name, options.maxMemoryMb);
  }
  // Call arguments holding shared objects, sent to a call queue this thread owns: handled here,
  // before the owner's own onmessage handler sees them.
  worker.addEventListener("message", (event) => {
    if (ArgsRoute.deliver(event.data)) event.stopImmediatePropagation();
  });
  worker.postMessage({ ...(init as object), parent: ArgsRoute.threadId });
  return worker;
}

/** Longest wait for a killed worker to leave its critical sections before it is terminated. */
export const CRITICAL_WAIT_MS = 1000;

/**
 * Ends a theta worker without ever cutting it inside one of theta's locked sections, and after it
 * gave back what it holds of the user's shared objects (see Termination in _futex.ts): sets its
 * kill word now (its waits throw, it enters no new section); after `graceMs`, once its critical
 * count is 0, tells it to give back (KILL_NOW) and terminates it when it says it did (KILL_DONE),
 * or after CRITICAL_WAIT_MS (a worker busy in JavaScript never answers).
 *
 * @param worker The worker.
 * @param kill Its kill word (a one-element view).
 * @param crit Its critical-section count (a one-element view).
 * @param graceMs How long its code may run on first (a cancelled task cleaning up).
 * @param gone True once the worker is known to have died (its error event fired): nothing is
 * left to wait for, it is terminated at once.
 * @returns A promise that resolves once `terminate()` was called. Its timers are unref'd: they
 * keep no process alive, so a caller that awaits it holds a timer of its own.
 */
export function endWorker(
  worker: WorkerLike,
  kill: Int32Array,
  crit: Int32Array,
  graceMs = 0,
  gone: () => boolean = () => false,
): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  // Only from 0: a kill already requested (by the owner's terminate()), or a worker that already
  // answered KILL_DONE, keeps its state.
  Atomics.compareExchange(kill, 0, 0, KILL_REQUESTED);
  Atomics.notify(kill, 0);
  const started = performance.now();
  let pause = 1;
  const attempt = (): void => {
    const late = performance.now() - started > graceMs + CRITICAL_WAIT_MS;
    if (
      late || gone() || (Atomics.load(crit, 0) <= 0 && Atomics.load(kill, 0) === KILL_DONE)
    ) {
      worker.terminate();
      resolve();
      return;
    }
    if (Atomics.load(crit, 0) <= 0) {
      // Only from KILL_REQUESTED: a worker that answered KILL_DONE meanwhile is ended next turn.
      Atomics.compareExchange(kill, 0, KILL_REQUESTED, KILL_NOW);
      Atomics.notify(kill, 0);
    }
    // A worker answers within a millisecond or two when it can; one that cannot (busy, or gone
    // already) is not worth a timer every millisecond for a second.
    unrefTimer(setTimeout(attempt, pause));
    pause = Math.min(pause * 2, 50);
  };
  if (graceMs > 0 && !gone()) unrefTimer(setTimeout(attempt, graceMs));
  else attempt();
  return promise;
}
