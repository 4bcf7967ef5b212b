// Copyright theta authors. MIT license.
// A worker's global scope as theta uses it, and the exit hooks: Deno tells the owner nothing when
// a worker closes itself (`self.close()`, `Deno.exit()`), so both are wrapped to report first.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and import only bundled modules.

import { CallQueueCore } from "../_callqueue_slots.ts";
import { HeldLocks } from "../_held.ts";
import { Termination } from "../_futex.ts";

/** The parts of the worker global theta uses. */
export interface WorkerScope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
  close(): void;
}

/**
 * Gives back what this thread holds of shared objects (call-queue slots, Locks, `hold()`
 * permits) and, if its owner is ending it, says so (see Termination in _futex.ts).
 */
export function giveBack(): void {
  CallQueueCore.releaseAll();
  HeldLocks.releaseAll();
  Termination.acknowledge();
}

/**
 * Wraps `close()` and `Deno.exit()` so that `onExit` runs first: Deno tells the owner nothing
 * when a worker closes itself. Whichever way the worker ends (closing itself, its runtime's end,
 * or terminated by its owner while its event loop is idle) it gives back what it holds first.
 *
 * @returns A function that closes the worker without reporting (the normal end).
 */
export function installExitHooks(scope: WorkerScope, onExit: () => void): () => void {
  const close = scope.close.bind(scope);
  let reported = false;
  const report = (): void => {
    if (reported) return;
    reported = true;
    giveBack();
    onExit();
  };
  Termination.whenEnding(giveBack);
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
    giveBack();
    close();
  };
}
