// Copyright theta authors. MIT license.
// A PollingMap's worker: polls keys on timers and answers refresh and set requests.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and import only bundled modules.

import { Termination } from "../_futex.ts";
import {
  epochNow,
  POLLING_CRIT,
  POLLING_KILL,
  type PollingRequest,
  type PollingWorkerInit,
} from "../_thread/protocol.ts";
import { installExitHooks, type WorkerScope } from "./exit_hooks.ts";
import { invoke, loadTarget } from "./task_function.ts";
import { type Outcome, packOutcome } from "./outcome.ts";

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
    Termination.install(new Int32Array(init.termination), POLLING_KILL, POLLING_CRIT);
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
