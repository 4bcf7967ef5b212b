// Copyright theta authors. MIT license.
// mt.base's `parallelise`: numbered jobs on a pool, results in job order.

import { BackgroundError } from "../_errors.ts";
import { canSpawnWorkers, cores } from "../_spawn.ts";
import { Pool } from "./pool.ts";
import type { Task } from "./task.ts";

/** Options of `parallelise`. */
export interface ParalleliseOptions<A extends unknown[]> {
  /**
   * Arguments passed to every job after its id.
   *
   * @default {[]}
   */
  args?: A;
  /**
   * Jobs running at once (the workers of the temporary pool, when no `pool` is given).
   *
   * @default {pool.size} with a `pool` (at least 1), else `Math.max(1, Math.floor(0.8 * navigator.hardwareConcurrency))`
   */
  concurrency?: number;
  /**
   * `"throw"`: the first failure rejects with a `BackgroundError`, once the other jobs settled.
   * `"warn"`: failures are reported with `console.warn` and their result is `undefined`.
   *
   * @default {"throw"}
   */
  onError?: "throw" | "warn";
  /**
   * A pool to run the jobs on; by default a temporary one is created and closed.
   *
   * @default {undefined}
   */
  pool?: Pool;
  /**
   * Called as each job settles, with the jobs settled so far and the total: for progress lines.
   *
   * @default {undefined}
   */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Runs `fn(jobId, ...args)` for every job id from 0 to `numJobs - 1` on a pool, and resolves with
 * the results in job order (mt.base's `parallelise`).
 *
 * @param fn A self-contained function of the job id and `args`.
 * @param numJobs How many jobs.
 * @param options Arguments, concurrency, error policy, pool.
 * @returns The results, in job order.
 * @throws {BackgroundError} With `onError: "throw"`, for the first job that failed.
 * @throws {RangeError} If `numJobs` or `concurrency` is not a valid count.
 *
 * @example Squares in parallel
 * ```ts
 * import { parallelise } from "@theta/theta/pool";
 * import assert from "node:assert/strict";
 *
 * const squares = await parallelise((id: number, offset: number) => id * id + offset, 5, {
 *   args: [100],
 *   concurrency: 2,
 * });
 * assert.deepEqual(squares, [100, 101, 104, 109, 116]);
 * ```
 */
export async function parallelise<A extends unknown[], R>(
  fn: (jobId: number, ...args: A) => R | Promise<R>,
  numJobs: number,
  options: ParalleliseOptions<A> = {} as ParalleliseOptions<A>,
): Promise<(Awaited<R> | undefined)[]> {
  if (!Number.isInteger(numJobs) || numJobs < 0) {
    throw new RangeError(
      `Cannot parallelise as numJobs must be a non-negative integer: current value is ${numJobs}`,
    );
  }
  const concurrency = options.concurrency ??
    (options.pool === undefined
      ? Math.max(1, Math.floor(0.8 * cores()))
      : Math.max(1, options.pool.size));
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(
      `Cannot parallelise as concurrency must be a positive integer: current value is ${concurrency}`,
    );
  }
  const onError = options.onError ?? "throw";
  const args = (options.args ?? []) as A;
  const pool = options.pool ?? new Pool({ size: canSpawnWorkers() ? concurrency : 0 });
  try {
    const results = new Array<Awaited<R> | undefined>(numJobs).fill(undefined);
    let firstFailure: BackgroundError | undefined;
    let next = 0;
    let settled = 0;
    const worker = async (): Promise<void> => {
      while (next < numJobs) {
        const jobId = next++;
        try {
          results[jobId] = await pool.run(fn as Task, [jobId, ...args]) as Awaited<R>;
        } catch (error) {
          if (onError === "warn") {
            console.warn(`theta: background job ${jobId} failed:`, error);
          } else {
            firstFailure ??= new BackgroundError(jobId, error);
          }
        }
        options.onProgress?.(++settled, numJobs);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, numJobs) }, worker));
    if (firstFailure !== undefined) throw firstFailure;
    return results;
  } finally {
    if (options.pool === undefined) await pool.close();
  }
}
