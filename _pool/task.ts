// Copyright theta authors. MIT license.
// What every executor runs: tasks, and the types that read a task module's exports.

/** A task: any function of its arguments, sync or async. */
// deno-lint-ignore no-explicit-any
export type Task<A extends any[] = any[], R = unknown> = (...args: A) => R | Promise<R>;

/** Anything that runs tasks and hands back their results: `Pool`, `LocalExecutor`, `KvPool`. */
export interface Executor {
  /**
   * Runs `task` with `args`.
   *
   * @param task A function, or a task name the executor knows.
   * @param args The task's arguments.
   * @returns The task's result.
   */
  // deno-lint-ignore no-explicit-any
  submit<R>(task: Task<any[], R> | string, ...args: unknown[]): Promise<R>;
}

/** The names of `M`'s function exports. */
export type TaskName<M> =
  & {
    [K in keyof M]: M[K] extends Task ? K : never;
  }[keyof M]
  & string;

/** The arguments of `M`'s export `K`. */
export type TaskArgs<M, K extends keyof M> = M[K] extends Task<infer A> ? A : never;

/** The awaited result of `M`'s export `K`. */
export type TaskResult<M, K extends keyof M> = M[K] extends Task<never, infer R> ? Awaited<R>
  : never;

/** The single item `M`'s export `K` takes, for `map`. */
export type TaskItem<M, K extends keyof M> = M[K] extends Task<[infer T, ...unknown[]]> ? T
  : never;
