// Copyright theta authors. MIT license.
// Checking what callers hand a job pool, written once for KvPool and BullPool so both refuse the
// same bad input with the same messages.

import type { Task } from "../_pool/task.ts";
import type { EnqueueOptions, JobPoolOptions, JobWaitOptions } from "./types.ts";

/** A job pool's checked options, defaults filled in. */
export interface JobSettings<M> {
  tasks: M | URL | string;
  name: string;
  backoff: readonly number[];
  resultTtl: number;
  leaseMs: number;
  concurrency: number;
  maxStalls: number;
}

/** Throws a RangeError unless `value` is a non-negative finite number of ms. */
export function checkMs(value: unknown, what: string, owner: string): number {
  if (!(typeof value === "number" && value >= 0 && value < Infinity)) {
    throw new RangeError(
      `Cannot create the ${owner} as ${what} must be a non-negative finite number of ms: current value is ${value}`,
    );
  }
  return value;
}

/**
 * Checks the options every job pool shares.
 *
 * @param options What the caller passed.
 * @param owner The class, for messages ("KvPool").
 * @returns The settings, defaults filled in.
 * @throws {TypeError} If `tasks` is missing, or `name` is not a non-empty string.
 * @throws {RangeError} If a duration, `concurrency` or `maxStalls` is out of range.
 */
export function jobSettings<M extends Record<string, Task>>(
  options: JobPoolOptions<M>,
  owner: string,
): JobSettings<M> {
  const tasks = options?.tasks;
  if (
    !(typeof tasks === "string" || tasks instanceof URL ||
      (typeof tasks === "object" && tasks !== null))
  ) {
    throw new TypeError(
      `Cannot create the ${owner} as tasks must be an object of functions or a module URL`,
    );
  }
  const name = options.name ?? "default";
  if (typeof name !== "string" || name === "") {
    throw new TypeError(
      `Cannot create the ${owner} as name must be a non-empty string: current value is ${name}`,
    );
  }
  const backoff = options.backoffSchedule ?? [1000, 5000, 10000];
  if (!Array.isArray(backoff)) {
    throw new TypeError(`Cannot create the ${owner} as backoffSchedule must be an array of ms`);
  }
  backoff.forEach((ms, i) => checkMs(ms, `backoffSchedule[${i}]`, owner));
  const maxStalls = options.maxStalls ?? 3;
  if (!(Number.isInteger(maxStalls) && maxStalls >= 0)) {
    throw new RangeError(
      `Cannot create the ${owner} as maxStalls must be a non-negative integer: current value is ${maxStalls}`,
    );
  }
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(
      `Cannot create the ${owner} as concurrency must be a positive integer: current value is ${concurrency}`,
    );
  }
  return {
    tasks,
    name,
    backoff: [...backoff],
    resultTtl: checkMs(options.resultTtl ?? 86_400_000, "resultTtl", owner),
    leaseMs: checkMs(options.leaseMs ?? 30_000, "leaseMs", owner),
    concurrency,
    maxStalls,
  };
}

/**
 * Checks `enqueue`'s arguments (the task name is checked against the tasks elsewhere).
 *
 * @returns The delay (0 by default) and the key.
 * @throws {TypeError} If `args` is not an array or `key` not a non-empty string.
 * @throws {RangeError} If `delay` is negative or not finite.
 */
export function enqueueSettings(
  args: unknown,
  options: EnqueueOptions,
): { delay: number; key: string | undefined } {
  if (!Array.isArray(args)) {
    throw new TypeError(
      `Cannot enqueue the job as args must be an array: current value is ${args}`,
    );
  }
  const delay = options?.delay ?? 0;
  if (!(typeof delay === "number" && delay >= 0 && delay < Infinity)) {
    throw new RangeError(
      `Cannot enqueue the job as delay must be a non-negative number of ms: current value is ${delay}`,
    );
  }
  const key = options?.key;
  if (key !== undefined && (typeof key !== "string" || key === "")) {
    throw new TypeError(
      `Cannot enqueue the job as key must be a non-empty string: current value is ${key}`,
    );
  }
  return { delay, key };
}

/**
 * The signal a `result` wait ends on: the caller's, the timeout's, or both.
 *
 * @throws {RangeError} If `timeout` is negative or not a number.
 */
export function waitSignal(options: JobWaitOptions): AbortSignal | undefined {
  const timeout = options?.timeout;
  if (timeout !== undefined && !(typeof timeout === "number" && timeout >= 0)) {
    throw new RangeError(
      `Cannot wait for the job as timeout must be a non-negative number of ms: current value is ${timeout}`,
    );
  }
  const signal = options?.signal;
  if (timeout === undefined) return signal;
  const timer = AbortSignal.timeout(timeout);
  return signal === undefined ? timer : AbortSignal.any([signal, timer]);
}
