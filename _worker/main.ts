// Copyright theta authors. MIT license.
// The entry point of every theta worker: waits for its init message, then runs its role.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and import only bundled modules.

import { fromWire } from "../_shareable.ts";
import { ArgsRoute } from "../_callqueue_slots.ts";
import type { ArgsMessage, PoolWorkerInit } from "../_pool/protocol.ts";
import type {
  PeriodicWorkerInit,
  PollingWorkerInit,
  ThreadWorkerInit,
} from "../_thread/protocol.ts";
import type { WorkerScope } from "./exit_hooks.ts";
import { PoolWorker } from "./pool_worker.ts";
import { runThread } from "./thread_worker.ts";
import { runPeriodic } from "./periodic_worker.ts";
import { PollingWorker } from "./polling_worker.ts";

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
    switch (init.role) {
      case "pool": {
        const worker = new PoolWorker(scope, init);
        scope.onmessage = (message: MessageEvent) => {
          const { id, args } = message.data as ArgsMessage;
          worker.mailbox.deliver(id, fromWire(args));
        };
        worker.start(init.module);
        return;
      }
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
