// Copyright theta authors. MIT license.
/**
 * Executors: `Pool`, a worker pool whose dispatch runs over shared memory (the GitPython async
 * pool, fandango's workers and mt.base's background jobs), `LocalExecutor` for closures on this
 * event loop, and `parallelise` (mt.base).
 *
 * A task is a self-contained function (its source runs in the worker: no closures; pass data as
 * arguments) or the name of an export of the pool's `module`, the form for typed, testable task
 * code. Shareable objects (`EvictingQueue`, `Event`, `Lock`, `Semaphore`, channel ends, `CallQueue`)
 * passed as arguments arrive as the same objects.
 *
 * @module
 */

export { BackgroundError, PoolClosed, QueueFull, WorkerCrashed } from "./_errors.ts";
export type { Executor, Task, TaskArgs, TaskItem, TaskName, TaskResult } from "./_pool/task.ts";
export { LocalExecutor, type LocalExecutorOptions } from "./_pool/local_executor.ts";
export {
  type MapOptions,
  Pool,
  type PoolOptions,
  type PoolStats,
  type RunOptions,
} from "./_pool/pool.ts";
export { parallelise, type ParalleliseOptions } from "./_pool/parallelise.ts";
export { type TaskContext, taskContext } from "./_pool/task_context.ts";
export type { TimeSummary } from "./_pool/stats.ts";
export type { ProcessPermissions } from "./_pool/process_handle.ts";
