// Copyright theta authors. MIT license.
// Task and target code in a worker: a function compiled from its source text, or a module's
// named export; and calling it, awaiting only what is a thenable.
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported, and import only bundled modules.

/**
 * Turns a function's source text back into a function, in the worker's global scope. Method
 * shorthand (`run(x) {}`) becomes a function expression.
 *
 * @throws {TypeError} If the source does not compile to a function.
 */
export function compileFunction(source: string): (...args: unknown[]) => unknown {
  const expression = /^(async\s*)?(function\b|\(|[\w$]+\s*=>)/.test(source)
    ? source
    : source.startsWith("async ")
    ? `async function ${source.slice(6)}`
    : `function ${source}`;
  let compiled: unknown;
  try {
    compiled = (0, eval)(`(${expression}\n)`);
  } catch (error) {
    throw new TypeError(
      `Cannot compile the task function: it must be self-contained source (no closures, no native or bound functions): ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  if (typeof compiled !== "function") {
    throw new TypeError("Cannot run the task as its source is not a function");
  }
  return compiled as (...args: unknown[]) => unknown;
}

/** True for promises and other thenables. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}

/** Calls `fn` with `args`, awaiting only if it returned a thenable. */
export async function invoke(
  fn: (...args: unknown[]) => unknown,
  args: unknown[],
): Promise<unknown> {
  const result = fn(...args);
  return isThenable(result) ? await result : result;
}

/** Calls `fn` on each item of `items`, in order, and collects the results. */
export async function invokeEach(
  fn: (...args: unknown[]) => unknown,
  items: unknown[],
): Promise<unknown[]> {
  const results = new Array<unknown>(items.length);
  for (let i = 0; i < items.length; i++) results[i] = await invoke(fn, [items[i]]);
  return results;
}

/** Where a thread's code comes from: a function's source, or a module's named export. */
export type TargetSpec = { source: string } | { module: string; export: string };

/**
 * Loads a thread's target.
 *
 * @throws {TypeError} If the source does not compile or the export is not a function.
 */
export async function loadTarget(spec: TargetSpec): Promise<(...args: unknown[]) => unknown> {
  if ("source" in spec) return compileFunction(spec.source);
  const module = await import(spec.module) as Record<string, unknown>;
  const fn = module[spec.export];
  if (typeof fn !== "function") {
    throw new TypeError(
      `Cannot run export "${spec.export}" of ${spec.module} as it is not a function: current value is ${typeof fn}`,
    );
  }
  return fn as (...args: unknown[]) => unknown;
}

/**
 * A pool module's export `name`, as a task.
 *
 * @throws {TypeError} If the pool has no module, or the export is not a function.
 */
export function moduleExport(
  module: Record<string, unknown> | undefined,
  name: string,
): (...args: unknown[]) => unknown {
  const fn = module?.[name];
  if (typeof fn !== "function") {
    throw new TypeError(
      module === undefined
        ? `Cannot run task "${name}" as the pool has no module: pass { module } to the Pool`
        : `Cannot run task "${name}" as the pool's module has no function export of that name`,
    );
  }
  return fn as (...args: unknown[]) => unknown;
}

/** Runs a task in its mode: once with `args`, or on each item of `args[0]` (MODE_EACH). */
export function runTask(
  fn: (...args: unknown[]) => unknown,
  each: boolean,
  args: unknown[],
): Promise<unknown> {
  return each ? invokeEach(fn, args[0] as unknown[]) : invoke(fn, args);
}
