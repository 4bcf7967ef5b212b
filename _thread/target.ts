// Copyright theta authors. MIT license.
// A thread's code as its worker loads it: a function's source, or a module and export.

import { functionSource, moduleTarget } from "../_spawn.ts";
import type { TargetSpec } from "../_worker/task_function.ts";

/** Validates and describes a target given as a function or a module URL. */
export function targetSpecOf(
  target: ((...args: never[]) => unknown) | URL | string,
  exportName: string | undefined,
  what: string,
): TargetSpec {
  if (typeof target === "function") return { source: functionSource(target, what) };
  if (typeof target === "string" || target instanceof URL) {
    return moduleTarget(target, exportName ?? "default");
  }
  throw new TypeError(
    `Cannot use ${what} as it must be a function or a module URL: current value is ${typeof target}`,
  );
}

/** Validates a period or expiry in ms. */
export function checkPeriod(period: number, what: string): void {
  if (!(typeof period === "number" && period > 0 && period < Infinity)) {
    throw new RangeError(
      `Cannot set ${what} as it must be a positive finite number of ms: current value is ${period}`,
    );
  }
}
