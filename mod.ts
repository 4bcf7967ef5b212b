// Copyright theta authors. MIT license.
/**
 * theta: a Deno-native concurrency toolkit. Worker pools, blocking queues, stoppable threads,
 * periodic jobs, cross-thread calls and background jobs, built on SharedArrayBuffer rings with
 * `Atomics.wait` for blocking calls and `Atomics.waitAsync` for async ones.
 *
 * @example A queue shared with a worker-backed pool task
 * ```ts
 * import { EvictingQueue } from "@theta/theta";
 * import assert from "node:assert/strict";
 *
 * const queue = new EvictingQueue<number>(5);
 * for (let i = 0; i < 8; i++) queue.put(i);
 * assert.deepEqual(queue.flush(), [3, 4, 5, 6, 7]);
 * ```
 *
 * @module
 */

export * from "./pool.ts";
export * from "./queue.ts";
export * from "./sync.ts";
export * from "./thread.ts";
export * from "./store.ts";
export * from "./callqueue.ts";
export * from "./channel.ts";
export * from "./kv.ts";
