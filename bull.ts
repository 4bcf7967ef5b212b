// Copyright theta authors. MIT license.
/**
 * Background jobs on Redis through BullMQ: the same job API as `KvPool` (kv.ts) for work that
 * outgrows one machine. This is theta's only module with npm dependencies (BullMQ and its
 * ioredis); nothing else in theta imports it, so importing theta never loads them.
 *
 * How the job API maps onto BullMQ: a job is a BullMQ job named after its task in the queue
 * `name` (key prefix `theta`); `key` is its job id (BullMQ adds nothing for an id it holds);
 * `leaseMs` is the lock duration and the stalled-check interval; `maxStalls` is
 * `maxStalledCount`; `backoffSchedule` is the attempts and a backoff strategy that reads the
 * schedule stored with the job; `resultTtl` is `removeOnComplete.age`; the dead letters are the
 * kept failed set. Arguments, results and errors travel as theta codec bytes (base64 in BullMQ's
 * JSON), so Map, Date, bigint and Error classes survive.
 *
 * Permissions: `--allow-net` for Redis (read and write of the path too, for a Unix socket),
 * `--allow-env` (BullMQ reads the environment as it loads), `--allow-read` for module tasks.
 *
 * @module
 */

import { DelayedError, type Job, type MinimalJob, Queue, QueueEvents, Worker } from "bullmq";
import { decode, encode, encodeOutcome } from "./_codec.ts";
import { SignalWatch } from "./_signal_watch.ts";
import { JobTasks } from "./_jobs/job_tasks.ts";
import { enqueueSettings, jobSettings, waitSignal } from "./_jobs/settings.ts";
import type {
  EnqueueOptions,
  JobPoolOptions,
  JobState,
  JobStatus,
  JobWaitOptions,
  ListenOptions,
} from "./_jobs/types.ts";
import type { Task, TaskArgs, TaskName, TaskResult } from "./pool.ts";

export type {
  EnqueueOptions,
  JobPoolOptions,
  JobState,
  JobStatus,
  JobWaitOptions,
  ListenOptions,
} from "./_jobs/types.ts";

/** Where Redis is: a host and port, a Unix socket path, or a URL. */
export interface BullConnection {
  /**
   * The host.
   *
   * @default {"localhost"}
   */
  host?: string;
  /**
   * The TCP port.
   *
   * @default {6379}
   */
  port?: number;
  /** A Unix socket path (instead of host and port). */
  path?: string;
  /**
   * A URL: `redis://[user:password@]host[:port][/db]`, `rediss://` for TLS, or
   * `unix:///path/to/redis.sock` (instead of the fields above).
   */
  url?: string;
}

/** Options for {@linkcode BullPool}: the job pool options, and where Redis is. */
export interface BullPoolOptions<M extends Record<string, Task>> extends JobPoolOptions<M> {
  /** Where Redis is. */
  connection: BullConnection;
}

/** Theta's key prefix in Redis (BullMQ's own is "bull"): theta's queues never mix with others. */
const PREFIX = "theta";
/** How long a listener that lacks a job's task leaves the job before it is due again, in ms. */
const LEAVE_MS = 250;
/** BullMQ's failedReason of a job that stalled more than `maxStalledCount` times. */
const STALLED_OUT = "job stalled more than allowable limit";

/** What theta stores as a BullMQ job's data: codec bytes in base64, and the retry schedule. */
interface JobData {
  args: string;
  backoff: number[];
  /** The error of the last failed run. */
  error?: string;
}

/** BullMQ's job states, as theta's. */
function stateOf(state: string): JobState | undefined {
  switch (state) {
    case "completed":
      return "done";
    case "failed":
      return "failed";
    case "active":
      return "running";
    case "waiting":
    case "delayed":
    case "prioritized":
    case "paused":
    case "waiting-children":
      return "queued";
    default:
      return undefined;
  }
}

/**
 * Redis script: removes job ARGV[1] from the lists a listener takes jobs from (waiting, paused,
 * delayed, prioritized), atomically. Returns 1 if it was in one of them.
 */
const TAKE_QUEUED = `
if redis.call("LREM", KEYS[1], 0, ARGV[1]) > 0 then return 1 end
if redis.call("LREM", KEYS[2], 0, ARGV[1]) > 0 then return 1 end
if redis.call("ZREM", KEYS[3], ARGV[1]) > 0 then return 1 end
if redis.call("ZREM", KEYS[4], ARGV[1]) > 0 then return 1 end
return 0`;

/**
 * ioredis options for a connection.
 *
 * @throws {TypeError} If the connection or its URL cannot be read.
 */
function redisOptions(connection: BullConnection): Record<string, unknown> {
  if (typeof connection !== "object" || connection === null) {
    throw new TypeError(
      `Cannot create the BullPool as connection must be { host?, port?, path?, url? }: current value is ${connection}`,
    );
  }
  // Commands wait while Redis is away (restarts) instead of failing after 20 retries: an
  // accepted job's outcome is stored once Redis is back.
  const options: Record<string, unknown> = { maxRetriesPerRequest: null };
  const { host, port, path, url } = connection;
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TypeError(`Cannot create the BullPool as connection.url is not a URL: ${url}`);
    }
    if (parsed.protocol === "unix:") return { ...options, path: parsed.pathname };
    if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
      throw new TypeError(
        `Cannot create the BullPool as connection.url must be redis:, rediss: or unix:: current value is ${parsed.protocol}`,
      );
    }
    options.host = parsed.hostname || "localhost";
    options.port = parsed.port === "" ? 6379 : Number(parsed.port);
    if (parsed.username !== "") options.username = decodeURIComponent(parsed.username);
    if (parsed.password !== "") options.password = decodeURIComponent(parsed.password);
    const db = parsed.pathname.slice(1);
    if (db !== "") options.db = Number(db);
    if (parsed.protocol === "rediss:") options.tls = {};
    return options;
  }
  if (path !== undefined) {
    if (typeof path !== "string" || path === "") {
      throw new TypeError(
        `Cannot create the BullPool as connection.path must be a socket path: current value is ${path}`,
      );
    }
    return { ...options, path };
  }
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new RangeError(
      `Cannot create the BullPool as connection.port must be a TCP port: current value is ${port}`,
    );
  }
  return { ...options, host: host ?? "localhost", port: port ?? 6379 };
}

/**
 * Asks for access to Redis up front: without it ioredis would retry the connection forever and
 * every call would hang. A Unix socket needs read and write access to its path besides net.
 *
 * @throws {Deno.errors.NotCapable} If access to Redis is not granted.
 */
function checkAccess(options: Record<string, unknown>): void {
  const permissions = globalThis.Deno?.permissions;
  if (typeof permissions?.querySync !== "function") return;
  const path = typeof options.path === "string" ? options.path : undefined;
  const host = path === undefined ? `${options.host}:${options.port}` : `unix:${path}`;
  const needed: Deno.PermissionDescriptor[] = [{ name: "net", host }];
  if (path !== undefined) needed.push({ name: "read", path }, { name: "write", path });
  for (const descriptor of needed) {
    let state = permissions.querySync(descriptor).state;
    if (state === "prompt") state = permissions.requestSync(descriptor).state;
    if (state !== "granted") {
      throw new Deno.errors.NotCapable(
        `Cannot create the BullPool as ${descriptor.name} access to Redis (${host}) is not granted: run with --allow-${descriptor.name}`,
      );
    }
  }
}

function toBase64(bytes: Uint8Array): string {
  return bytes.toBase64();
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.fromBase64(text);
}

/**
 * Background jobs on Redis with BullMQ, for more than one machine: the same members and
 * semantics as `KvPool`. `submit` runs a named task on some listener (this process, or any
 * machine listening on the same Redis and queue name) and resolves with its result; `enqueue`
 * starts a fire-and-forget job and returns its id for `status` and `result`. Failing jobs are
 * retried per `backoffSchedule`, then land in the dead letters (`deadLetters`, `retry`); a job
 * whose listener died runs elsewhere once its lease (`leaseMs`) expired, and a stall uses up no
 * retry. Delivery is at least once: make tasks idempotent.
 *
 * Only task names travel, so every process names the same tasks. Module tasks run on worker
 * threads, which keeps the listener's event loop free to renew leases while a job computes;
 * tasks given as functions run on the listener's event loop, where a CPU-bound job longer than
 * the lease would be taken for a stalled one.
 *
 * @typeParam M The tasks: names, arguments and results are typed through.
 *
 * @example Jobs on Redis
 * ```ts
 * import { BullPool } from "@theta/theta/bull";
 * import assert from "node:assert/strict";
 *
 * const url = Deno.env.get("REDIS_URL") ?? "redis://localhost:6379";
 * await using jobs = new BullPool({
 *   connection: { url },
 *   name: "doc-example",
 *   tasks: { add: (a: number, b: number) => a + b, when: (d: Date) => d.getFullYear() },
 * });
 * const listening = jobs.listen();
 * assert.equal(await jobs.submit("add", 2, 3), 5);
 * const id = await jobs.enqueue("when", [new Date(2026, 10, 24)]);
 * assert.equal(await jobs.result(id), 2026);
 * assert.equal((await jobs.status(id))?.state, "done");
 * await jobs.close();
 * await listening;
 * ```
 */
export class BullPool<M extends Record<string, Task> = Record<string, Task>> {
  readonly #connection: Record<string, unknown>;
  readonly #name: string;
  readonly #tasks: JobTasks;
  readonly #backoff: readonly number[];
  readonly #resultTtl: number;
  readonly #leaseMs: number;
  readonly #concurrency: number;
  readonly #maxStalls: number;
  #queue: Queue | undefined;
  #events: Promise<QueueEvents> | undefined;
  /** Callbacks of `result` waits, by job id: one QueueEvents listener serves them all. */
  readonly #waiters = new Map<string, Set<() => void>>();
  #listening: Promise<void> | undefined;
  #stopListening: (() => void) | undefined;
  #closed = false;

  /**
   * Creates a pool. It connects on first use and runs no job until `listen()`.
   *
   * @param options Where Redis is, the tasks, and the rest.
   * @throws {TypeError} If `connection` or `tasks` is missing or malformed, or `name` is not a
   * non-empty string.
   * @throws {RangeError} If a duration, `concurrency`, `maxStalls` or the port is out of range.
   * @throws {Deno.errors.NotCapable} If access to Redis (net; a socket's path) is not granted.
   */
  constructor(options: BullPoolOptions<M>) {
    this.#connection = redisOptions(options?.connection);
    checkAccess(this.#connection);
    const settings = jobSettings(options, "BullPool");
    if (settings.name.includes(":")) {
      throw new TypeError(
        `Cannot create the BullPool as name must not contain ":" (Redis key separator): current value is ${settings.name}`,
      );
    }
    this.#name = settings.name;
    this.#tasks = new JobTasks(settings.tasks, settings.concurrency);
    this.#backoff = settings.backoff;
    this.#resultTtl = settings.resultTtl;
    this.#leaseMs = settings.leaseMs;
    this.#concurrency = settings.concurrency;
    this.#maxStalls = settings.maxStalls;
  }

  #queueOf(): Queue {
    if (this.#queue === undefined) {
      this.#queue = new Queue(this.#name, { connection: this.#connection, prefix: PREFIX });
      this.#queue.on("error", (error) => console.error("BullPool queue:", error));
    }
    return this.#queue;
  }

  /**
   * Enqueues a job, runs it on some listener, and resolves with its result.
   *
   * @param name The task's name.
   * @param args Its arguments.
   * @returns The task's result.
   * @throws {TypeError} If there is no such task, or an argument cannot be stored (naming its
   * path).
   * @throws The task's error, once its retries are used up.
   */
  submit<K extends TaskName<M>>(name: K, ...args: TaskArgs<M, K>): Promise<TaskResult<M, K>>;
  /**
   * The `Executor` form of `submit`, for code written against any executor (`Store`).
   *
   * @param task The task's name (a function is refused: it cannot be stored).
   * @param args Its arguments.
   * @returns The task's result.
   * @throws {TypeError} If `task` is not a known task name.
   */
  // deno-lint-ignore no-explicit-any
  submit<R>(task: Task<any[], R> | string, ...args: unknown[]): Promise<R>;
  async submit(name: unknown, ...args: unknown[]): Promise<unknown> {
    const id = await this.enqueue(name as TaskName<M>, args as TaskArgs<M, TaskName<M>>);
    return await this.result(id);
  }

  /**
   * Enqueues a background job.
   *
   * @param name The task's name.
   * @param args Its arguments.
   * @param options A delay, an idempotency key.
   * @returns The job's id, for `status` and `result` (with a key, the key's job's id).
   * @throws {TypeError} If the pool is closed, there is no such task, or an argument cannot be
   * stored.
   * @throws {RangeError} If `delay` is negative.
   */
  async enqueue<K extends TaskName<M>>(
    name: K,
    args: TaskArgs<M, K>,
    options: EnqueueOptions = {},
  ): Promise<string> {
    if (this.#closed) throw new TypeError("Cannot enqueue a job as the BullPool is closed");
    await this.#tasks.check(name);
    const { delay, key } = enqueueSettings(args, options);
    const data: JobData = { args: toBase64(encode(args, "args")), backoff: [...this.#backoff] };
    // BullMQ adds nothing for a job id it holds and returns that job: the key's idempotency.
    // Ids of theta's own jobs are UUIDs; a key becomes an id BullMQ accepts (no ":", not an
    // integer), distinct from any UUID.
    const jobId = key === undefined ? crypto.randomUUID() : `key-${encodeURIComponent(key)}`;
    const age = Math.ceil(this.#resultTtl / 1000);
    const job = await this.#queueOf().add(name, data, {
      jobId,
      delay,
      attempts: this.#backoff.length + 1,
      backoff: { type: "theta" },
      removeOnComplete: age === 0 ? true : { age },
      removeOnFail: false,
    });
    return job.id ?? jobId;
  }

  /**
   * Where a job is.
   *
   * @param id The job's id.
   * @returns Its status, or undefined for an unknown (or expired) id, or one that is not a
   * string.
   */
  async status(id: string): Promise<JobStatus | undefined> {
    if (typeof id !== "string" || id === "") return undefined;
    const queue = this.#queueOf();
    // The state first, then the record: a record read after a finished state holds its outcome.
    const state = stateOf(await queue.getJobState(id));
    if (state === undefined) return undefined;
    const job = await queue.getJob(id);
    if (job === undefined || job === null) return undefined;
    if (state === "queued" && job.attemptsMade > 0) {
      // A retry waits in the delayed set; its score holds the time it is due (BullMQ packs a
      // counter into the low 12 bits).
      const score = await (await queue.client).zscore(queue.keys.delayed!, id);
      if (score !== null) return this.#statusOf(job, state, Math.floor(Number(score) / 0x1000));
    }
    return this.#statusOf(job, state);
  }

  /** A job's status; `notBefore` defaults to when it was first due. */
  #statusOf(
    job: Job,
    state: JobState,
    notBefore: number = job.timestamp + (job.opts.delay ?? 0),
  ): JobStatus {
    const data = job.data as JobData;
    const status: JobStatus = {
      id: job.id!,
      task: job.name,
      state,
      attempts: job.attemptsStarted,
      stalls: job.stalledCounter,
      enqueuedAt: job.timestamp,
      notBefore,
    };
    if (state === "done") status.result = decode(fromBase64(job.returnvalue as string));
    if (job.failedReason === STALLED_OUT) {
      status.error = new Error(
        `Job ${job.id} stalled ${job.stalledCounter} times (its listener stopped renewing its lease: it crashed, was killed or stalled), more than maxStalls`,
      );
    } else if (data.error !== undefined) {
      status.error = decode(fromBase64(data.error)) as Error;
    } else if (job.failedReason) {
      status.error = new Error(job.failedReason);
    }
    if (state === "done" || state === "failed") status.finishedAt = job.finishedOn ?? Date.now();
    return status;
  }

  /**
   * Removes a job that has not started.
   *
   * @param id The job's id.
   * @returns True if it was queued and is now gone; false if it runs, ran, or is unknown.
   */
  async cancel(id: string): Promise<boolean> {
    if (typeof id !== "string" || id === "") return false;
    const queue = this.#queueOf();
    const job = await queue.getJob(id);
    if (job === undefined || job === null) return false;
    // Out of the queued lists in one step, or not at all: a state read, then a remove, would
    // report a job that a listener took, ran and finished in between as cancelled.
    const { wait, paused, delayed, prioritized } = queue.keys;
    const client = await queue.client;
    const keys = [wait!, paused!, delayed!, prioritized!];
    const taken = await client.runCommand("eval", [TAKE_QUEUED, keys.length, ...keys, id]);
    if (taken !== 1) return false;
    // No listener can take it now: remove its record (and tell result waiters it is gone).
    await job.remove();
    return true;
  }

  /**
   * Queues a dead letter again, with its retries and stalls reset.
   *
   * @param id The job's id.
   * @returns True if it was a dead letter and is queued again.
   */
  async retry(id: string): Promise<boolean> {
    if (typeof id !== "string" || id === "") return false;
    const queue = this.#queueOf();
    const job = await queue.getJob(id);
    if (job === undefined || job === null || (await job.getState()) !== "failed") return false;
    // The stall count and a stall's deferred failure ("defa") would fail the job again at once.
    await (await queue.client).hdel(queue.toKey(id), "stc", "defa");
    try {
      await job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
    } catch {
      return false; // retried by someone else meanwhile
    }
    return true;
  }

  /**
   * Jobs that failed with their retries used up, oldest first.
   *
   * @returns Their statuses.
   */
  async deadLetters(): Promise<JobStatus[]> {
    const failed = await this.#queueOf().getFailed(0, -1);
    return failed
      .map((job) => this.#statusOf(job as Job, "failed"))
      .sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
  }

  /**
   * The queue's event stream, read from its current end: a job that finishes after this
   * resolved is seen by the listeners; one that finished before, by the status read after it.
   */
  #eventsOf(): Promise<QueueEvents> {
    this.#events ??= (async () => {
      const queue = this.#queueOf();
      const client = await queue.client;
      const last = await client.runCommand("xrevrange", [
        queue.keys.events!,
        "+",
        "-",
        "COUNT",
        1,
      ]) as [string, unknown][];
      const events = new QueueEvents(this.#name, {
        connection: this.#connection,
        prefix: PREFIX,
        lastEventId: last[0]?.[0] ?? "0-0",
      });
      events.on("error", (error) => console.error("BullPool events:", error));
      const wake = ({ jobId }: { jobId: string }): void => {
        for (const waiter of this.#waiters.get(jobId) ?? []) waiter();
      };
      events.on("completed", wake);
      events.on("failed", wake);
      events.on("removed", wake);
      await events.waitUntilReady();
      return events;
    })();
    return this.#events;
  }

  /**
   * Waits for a job to finish, woken by the queue's events (no polling).
   *
   * @param id The job's id.
   * @param options An abort signal, a timeout.
   * @returns Its result.
   * @throws The job's error if it failed; `TypeError` for an unknown id; the signal's reason
   * (a `TimeoutError` `DOMException` for `timeout`).
   */
  async result(id: string, options: JobWaitOptions = {}): Promise<unknown> {
    const signal = waitSignal(options);
    signal?.throwIfAborted();
    await this.#eventsOf();
    signal?.throwIfAborted();
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    let checking = false;
    let again = false;
    const check = async (): Promise<void> => {
      // One status read at a time; an event during it asks for one more.
      if (checking) return void (again = true);
      checking = true;
      try {
        do {
          again = false;
          if (this.#closed) {
            reject(new TypeError(`Cannot wait for job ${id} as the BullPool is closed`));
            break;
          }
          const job = await this.status(id);
          if (job === undefined) {
            reject(new TypeError(`Cannot wait for job ${id} as it does not exist (or expired)`));
          } else if (job.state === "done") resolve(job.result);
          else if (job.state === "failed") reject(job.error);
        } while (again);
      } catch (error) {
        reject(error);
      } finally {
        checking = false;
      }
    };
    const waiter = (): void => void check();
    let set = this.#waiters.get(id);
    if (set === undefined) this.#waiters.set(id, set = new Set());
    set.add(waiter);
    const onAbort = (): void => reject(signal!.reason);
    // One listener per signal however many results are awaited under it (see SignalWatch).
    if (signal !== undefined) SignalWatch.calls.watch(signal, onAbort);
    void check();
    try {
      return await promise;
    } finally {
      if (signal !== undefined) SignalWatch.calls.unwatch(signal, onAbort);
      set.delete(waiter);
      if (set.size === 0) this.#waiters.delete(id);
    }
  }

  /**
   * Processes jobs in this process until `close()` or the signal aborts: takes due jobs, runs
   * them (at most `concurrency` at once), keeps their leases, stores their outcomes.
   *
   * @param options An abort signal: aborting stops taking jobs (the pool stays open, and may
   * listen again); the jobs already running finish.
   * @returns A promise that resolves once listening ended and the running jobs settled.
   * @throws {TypeError} If already listening or closed.
   */
  listen(options: ListenOptions = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#closed) {
      return Promise.reject(new TypeError("Cannot listen as the BullPool is closed"));
    }
    if (this.#listening !== undefined) {
      return Promise.reject(new TypeError("Cannot listen as this BullPool already listens"));
    }
    const worker = new Worker(
      this.#name,
      (job, token) => this.#process(job, token),
      {
        connection: this.#connection,
        prefix: PREFIX,
        concurrency: this.#concurrency,
        lockDuration: this.#leaseMs,
        // A stall is seen on the second check after the lock expired: checking twice per lease
        // bounds recovery at about two leases (one lease plus half, typically).
        stalledInterval: Math.max(1, Math.round(this.#leaseMs / 2)),
        maxStalledCount: this.#maxStalls,
        // BullMQ's idle wait (s). Its listener can miss the wake-up of a retry it delayed itself
        // and then sleeps the whole wait (5 s by default, measured here in 5 of 15 retries of a
        // 10 ms backoff); 0.2 s bounds that lateness for one cheap BZPOPMIN per 200 ms when idle.
        drainDelay: 0.2,
        settings: {
          // The schedule travels with the job: every listener retries a job the same way.
          backoffStrategy: (
            attemptsMade: number,
            _type?: string,
            _error?: Error,
            job?: MinimalJob,
          ) => (job?.data as JobData | undefined)?.backoff[attemptsMade - 1] ?? 0,
        },
      },
    );
    worker.on("error", (error) => console.error("BullPool listener:", error));
    const stopped = Promise.withResolvers<void>();
    const onAbort = (): void => stopped.resolve();
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#listening = (async () => {
      try {
        await stopped.promise;
      } finally {
        signal?.removeEventListener("abort", onAbort);
        await worker.close(); // waits for the running jobs
        this.#listening = undefined;
      }
    })();
    this.#stopListening = stopped.resolve;
    return this.#listening;
  }

  /** Runs one job for BullMQ's worker: its result as codec bytes, or its error thrown. */
  async #process(job: Job, token: string | undefined): Promise<string> {
    const data = job.data as JobData;
    if (!(await this.#tasks.has(job.name))) {
      // A listener without the task leaves the job to one that has it: the run it started is
      // taken back (attemptsStarted), and the job is due again shortly, for anyone.
      const queue = this.#queueOf();
      await (await queue.client).runCommand("hincrby", [queue.toKey(job.id!), "ats", -1]);
      await job.moveToDelayed(Date.now() + LEAVE_MS, token);
      throw new DelayedError();
    }
    let failure: unknown;
    try {
      const value = await this.#tasks.run(job.name, decode(fromBase64(data.args)) as unknown[]);
      const outcome = encodeOutcome(true, value, "the job's result");
      if (outcome.ok) return toBase64(outcome.bytes);
      failure = decode(outcome.bytes); // a result that cannot be stored: a TypeError
    } catch (error) {
      failure = error;
    }
    // The error is stored with the job as codec bytes (its class, cause and fields survive);
    // BullMQ gets its message for failedReason, and decides on a retry.
    await job.updateData({ ...data, error: toBase64(encodeOutcome(false, failure, "").bytes) });
    throw failure instanceof Error ? failure : new Error(String(failure));
  }

  /**
   * Stops listening, and closes the connections; resolves once the jobs running here settled.
   * Queued jobs stay in Redis for other listeners, or for the next `listen()`.
   *
   * @returns A promise that resolves once closed.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopListening?.();
    await this.#listening;
    const events = this.#events;
    this.#events = undefined;
    await (await events?.catch(() => undefined))?.close();
    await this.#queue?.close();
    await this.#tasks.close();
    for (const set of this.#waiters.values()) for (const waiter of set) waiter();
  }

  /** Closes the pool. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
