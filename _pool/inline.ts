// Copyright theta authors. MIT license.
// Inline mode (size 0, or no Worker in this runtime): a job runs on this thread, its function
// called directly or its module export imported.

import type { Job } from "./job.ts";
import { MODE_EACH } from "./protocol.ts";
import type { Task } from "./task.ts";
import { moduleExport, runTask } from "../_worker/task_function.ts";

/** Loads a pool module's exports once, for inline runs. */
export class InlineModule {
  readonly #specifier: string | undefined;
  #exports: Promise<Record<string, unknown>> | undefined;

  constructor(specifier: string | undefined) {
    this.#specifier = specifier;
  }

  /**
   * The export named `name`.
   *
   * @throws {TypeError} If the pool has no module or the export is not a function.
   */
  async task(name: string): Promise<Task> {
    if (this.#specifier === undefined) return moduleExport(undefined, name) as Task;
    this.#exports ??= import(this.#specifier);
    return moduleExport(await this.#exports, name) as Task;
  }
}

/**
 * Runs `job` on this thread.
 *
 * @returns The task's result (an array of results in MODE_EACH).
 */
export async function runInline(job: Job, module: InlineModule): Promise<unknown> {
  const fn = (job.fn as Task | undefined) ?? await module.task(job.ref as string);
  return await runTask(fn as (...args: unknown[]) => unknown, job.mode === MODE_EACH, job.args);
}
