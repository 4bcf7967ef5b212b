// Copyright theta authors. MIT license.
/**
 * Threads that can be asked to stop (theta's `StoppableThread`), periodic jobs (fandango's
 * `ThreadedObject` as `Periodic`) and polled maps (fandango's `ThreadDict` as `PollingMap`). Each
 * runs its code in a Worker started from the same bundled runtime as the pool's workers.
 *
 * @module
 */

export { WorkerCrashed } from "./_errors.ts";
export type { ThreadContext, ThreadTarget } from "./_thread/thread_context.ts";
export { StoppableThread, type StoppableThreadOptions } from "./_thread/stoppable_thread.ts";
export { Periodic, type PeriodicOptions, type PeriodicStats } from "./_thread/periodic.ts";
export { PollingMap, type PollingMapOptions } from "./_thread/polling_map.ts";
