// Copyright theta authors. MIT license.
// A StoppableThread's worker: runs the target once and reports its outcome.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and import only bundled modules.

import { Termination } from "../_futex.ts";
import { fromWire } from "../_shareable.ts";
import { Event } from "../sync.ts";
import {
  THREAD_CRIT,
  THREAD_DONE,
  THREAD_KILL,
  type ThreadWorkerInit,
} from "../_thread/protocol.ts";
import { installExitHooks, type WorkerScope } from "./exit_hooks.ts";
import { invoke, loadTarget } from "./task_function.ts";
import { type Outcome, packOutcome } from "./outcome.ts";
import { WorkerContext } from "./context.ts";

/** Runs a StoppableThread's target once, posts `{ kind: "done", outcome }`, and closes. */
export async function runThread(scope: WorkerScope, init: ThreadWorkerInit): Promise<void> {
  const status = new Int32Array(init.status);
  Termination.install(status, THREAD_KILL, THREAD_CRIT);
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
