// Task module for pool_test.ts: typed tasks run by export name.
export function add(a: number, b: number): number {
  return a + b;
}

export async function slowDouble(x: number, ms: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return 2 * x;
}

export class ParseFailure extends Error {
  override name = "ParseFailure";
}

export function parse(text: string): number {
  const value = Number(text);
  if (Number.isNaN(value)) throw new ParseFailure(`not a number: ${text}`, { cause: text });
  return value;
}

export const notAFunction = 42;

export function double(x: number): number {
  return x * 2;
}

import { taskContext } from "../pool.ts";

/** Reports progress every `step` and returns the task's id. */
export function countWithProgress(n: number, step: number): number {
  const { id, progress } = taskContext();
  for (let i = step; i <= n; i += step) progress(i);
  return id;
}

let setups = 0;

/** Per-worker setup, run once before the worker's first task. */
export function setup(): void {
  setups++;
}

/** How many times this worker ran setup. */
export function setupCount(): number {
  return setups;
}
