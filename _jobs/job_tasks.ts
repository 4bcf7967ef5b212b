// Copyright theta authors. MIT license.
// The tasks a job pool runs, by name. Functions given as an object run on the listener's event
// loop; a module's exports run on a theta Pool of worker threads where Worker exists, so a
// CPU-bound job cannot starve the timer that renews its lease (a job run twice because its own
// loop was busy is the failure this avoids). Without Worker (Deno Deploy) they run inline.

import { Pool } from "../_pool/pool.ts";
import { canSpawnWorkers } from "../_spawn.ts";

/** A pool's task table, shared by KvPool and BullPool. */
export class JobTasks {
  readonly #tasks: Record<string, unknown> | URL | string;
  readonly #threads: number;
  #module: Promise<Record<string, unknown>> | undefined;
  #pool: Pool | undefined;
  #closed = false;

  /**
   * @param tasks An object of functions, or a module URL.
   * @param threads Worker threads for module tasks (the listener's concurrency).
   */
  constructor(tasks: Record<string, unknown> | URL | string, threads: number) {
    this.#tasks = tasks;
    this.#threads = threads;
  }

  /** The functions by name (a module is imported once, here too, to know its exports). */
  async table(): Promise<Record<string, unknown>> {
    const tasks = this.#tasks;
    if (typeof tasks === "string" || tasks instanceof URL) {
      this.#module ??= import(String(tasks));
      return await this.#module;
    }
    return tasks;
  }

  /** True if there is a task of that name. */
  async has(name: string): Promise<boolean> {
    return typeof (await this.table())[name] === "function";
  }

  /**
   * Checks a task name given to `submit` or `enqueue`.
   *
   * @throws {TypeError} If it is not a string (functions cannot be stored) or names no task.
   */
  async check(name: unknown): Promise<string> {
    if (typeof name !== "string") {
      throw new TypeError(
        `Cannot submit the job as its task must be a task name (functions cannot be stored): current value is ${typeof name}`,
      );
    }
    if (!(await this.has(name))) {
      throw new TypeError(`Cannot submit the job as there is no task named "${name}"`);
    }
    return name;
  }

  /**
   * Runs a task: module tasks on a worker thread (where Worker exists), functions here.
   *
   * @returns Its result.
   * @throws Its error; `TypeError` for an unknown name.
   */
  async run(name: string, args: unknown[]): Promise<unknown> {
    const tasks = this.#tasks;
    const task = (await this.table())[name];
    if (typeof task !== "function") {
      throw new TypeError(`Cannot run the job as there is no task named "${name}"`);
    }
    if ((typeof tasks === "string" || tasks instanceof URL) && canSpawnWorkers()) {
      if (this.#closed) throw new TypeError("Cannot run the job as its pool is closed");
      this.#pool ??= new Pool({ module: tasks, size: this.#threads, name: "theta-jobs" });
      return await this.#pool.run(name, args);
    }
    return await task(...args);
  }

  /** Ends the worker threads, once the jobs on them finished. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#pool?.close();
  }
}
