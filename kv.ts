// Copyright theta authors. MIT license.
// Background jobs on Deno KV: the same `submit` as a Pool, with KV as the engine, so jobs survive
// restarts and spread over processes and machines.
//
// Each job is one record under ["theta", name, "job", id]; two index keys make it findable:
// ["theta", name, "ready", notBefore, id] while it waits (holding a copy of the queued record, so
// a claim is one commit checked against that entry, with no read), and
// ["theta", name, "lease", until, id] while it runs. Every change is one atomic operation checked
// against a versionstamp, so two listeners never both claim a job. A running job holds a lease its
// listener renews; a job whose lease expired (its listener crashed or was killed) runs again,
// started by whichever listener sees it first.
//
// Waking up: KV queues are not used (the new Deno Deploy has none, and an app's own listenQueue
// keeps its messages). Within one isolate an enqueue wakes the local listener directly; other
// processes find due jobs by polling every `pollInterval`; on Deno Deploy a Deno.cron handler
// calls drain().

import { decode, encode, encodeOutcome } from "./_codec.ts";
import { SignalWatch } from "./_signal_watch.ts";
import type { Task, TaskArgs, TaskName, TaskResult } from "./pool.ts";
import { JobTasks } from "./_jobs/job_tasks.ts";
import { checkMs, enqueueSettings, jobSettings, waitSignal } from "./_jobs/settings.ts";
import type {
  EnqueueOptions,
  JobPoolOptions,
  JobState,
  JobStatus,
  JobWaitOptions,
  ListenOptions,
} from "./_jobs/types.ts";

export type {
  EnqueueOptions,
  JobPoolOptions,
  JobState,
  JobStatus,
  JobWaitOptions,
  ListenOptions,
} from "./_jobs/types.ts";

/** Options for {@linkcode KvPool}: the job pool options, and how often listeners poll. */
export interface KvPoolOptions<M extends Record<string, Task>> extends JobPoolOptions<M> {
  /**
   * How often a listener looks for jobs from other processes, in ms.
   *
   * @default {50}
   */
  pollInterval?: number;
}

/** Options for {@linkcode KvPool.prototype.drain}. */
export interface DrainOptions {
  /**
   * Stops taking new jobs (the running ones finish).
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Most jobs to run.
   *
   * @default {Infinity}
   */
  max?: number;
}

/** A ready-index entry: the queued job's record (an id alone in stores theta 0.1 wrote). */
type ReadyEntry = Deno.KvEntry<JobRecord | string>;

/** The record stored per job. Arguments, results and errors are theta codec bytes. */
interface JobRecord {
  id: string;
  task: string;
  args: Uint8Array;
  state: JobState;
  attempts: number;
  stalls?: number;
  enqueuedAt: number;
  notBefore: number;
  leaseUntil: number;
  finishedAt?: number;
  result?: Uint8Array;
  error?: Uint8Array;
}

/** Resolves after `ms`, or as soon as `early` does; rejects when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal, early?: Promise<void>): Promise<void> {
  // Aborted already (between two polls of a result): an abort listener would never fire.
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      if (signal !== undefined) SignalWatch.calls.unwatch(signal, onAbort);
      resolve();
    };
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(done, ms);
    // One listener per signal however many results are awaited under it (see SignalWatch).
    if (signal !== undefined) SignalWatch.calls.watch(signal, onAbort);
    void early?.then(done);
  });
}

/**
 * Runs a KV operation, retrying for `forMs` while SQLite reports the file locked by another
 * process (Deno KV surfaces SQLITE_BUSY as a TypeError with that message; there is no code to test
 * instead).
 */
async function retryWhileBusy<T>(operation: () => Promise<T>, forMs = 30_000): Promise<T> {
  const until = performance.now() + forMs;
  for (let attempt = 0;; attempt++) {
    try {
      return await operation();
    } catch (error) {
      const busy = error instanceof Error && /database is locked|SQLITE_BUSY/i.test(error.message);
      if (!busy || performance.now() > until) throw error;
      await sleep(2 + Math.random() * 8 * Math.min(attempt + 1, 25));
    }
  }
}

/** The listening pools of each KV handle in this isolate, by queue name. */
const listening = new WeakMap<Deno.Kv, Map<string, KvPool>>();
/** Waiters for jobs finishing in this isolate, by "name/id". */
const finishWaiters = new Map<string, Set<() => void>>();

function wakeFinishWaiters(key: string): void {
  for (const wake of finishWaiters.get(key) ?? []) wake();
}

/**
 * Background jobs on Deno KV (`--unstable-kv`): `submit` runs a named task somewhere (this
 * process or another listening on the same KV) and resolves with its result; `enqueue` starts a
 * fire-and-forget job and returns its id for `status`. Jobs survive restarts, failing jobs are
 * retried per `backoffSchedule` and then land in the dead letters, and a job whose listener died
 * runs elsewhere once its lease expires. The same code runs on a local SQLite file, in memory,
 * and on Deno Deploy.
 *
 * Only task names travel (functions cannot be stored), so every process names the same tasks.
 * It needs KV only, not KV queues (which the new Deno Deploy lacks): listeners poll for due jobs
 * every `pollInterval` ms and are woken at once by enqueues in their own isolate; an app's own
 * `kv.listenQueue` keeps all its messages. Delivery is at least once: a job runs again only if its
 * lease expired, so tasks should be idempotent.
 *
 * @typeParam M The tasks: names, arguments and results are typed through.
 *
 * @example Submitting a job
 * ```ts
 * import { KvPool } from "@theta/theta/kv";
 * import assert from "node:assert/strict";
 *
 * const kv = await Deno.openKv(":memory:");
 * const jobs = new KvPool(kv, { tasks: { add: (a: number, b: number) => a + b } });
 * const listening = jobs.listen();
 * assert.equal(await jobs.submit("add", 2, 3), 5);
 * const id = await jobs.enqueue("add", [1, 1]);
 * assert.equal(await jobs.result(id), 2);
 * assert.equal((await jobs.status(id))?.state, "done");
 * await jobs.close();
 * await listening;
 * kv.close();
 * ```
 */
export class KvPool<M extends Record<string, Task> = Record<string, Task>> {
  readonly #kv: Deno.Kv;
  readonly #name: string;
  readonly #tasks: JobTasks;
  readonly #backoff: readonly number[];
  readonly #resultTtl: number;
  readonly #leaseMs: number;
  readonly #pollInterval: number;
  readonly #concurrency: number;
  readonly #maxStalls: number;
  #listening: PromiseWithResolvers<void> | undefined;
  #kick: (() => void) | undefined;
  #running = 0;
  readonly #runningJobs: Set<Promise<void>> = new Set();
  /** Ids of the jobs running here: never taken for stalled by this listener. */
  readonly #runningIds: Set<string> = new Set();
  #closed = false;
  #stopListening = false;

  /**
   * Creates a pool on `kv`. It runs no job until `listen()`.
   *
   * @param kv A KV store from `Deno.openKv()`.
   * @param options The tasks and the rest.
   * @throws {TypeError} If `tasks` is missing, or `name` is not a non-empty string.
   * @throws {RangeError} If a duration or `concurrency` is out of range.
   */
  constructor(kv: Deno.Kv, options: KvPoolOptions<M>) {
    if (typeof kv?.atomic !== "function") {
      throw new TypeError(
        "Cannot create the KvPool as kv is not a Deno.Kv: pass await Deno.openKv()",
      );
    }
    const settings = jobSettings(options, "KvPool");
    this.#kv = kv;
    this.#name = settings.name;
    this.#tasks = new JobTasks(settings.tasks, settings.concurrency);
    this.#backoff = settings.backoff;
    this.#resultTtl = settings.resultTtl;
    this.#leaseMs = settings.leaseMs;
    this.#concurrency = settings.concurrency;
    this.#maxStalls = settings.maxStalls;
    this.#pollInterval = checkMs(options.pollInterval ?? 50, "pollInterval", "KvPool");
  }

  /**
   * Runs a store operation, retrying while the store is busy or locked for at least `leaseMs`
   * (and 30 s): a finished job's outcome is not given up sooner than its lease.
   */
  #busy<T>(operation: () => Promise<T>): Promise<T> {
    return retryWhileBusy(operation, Math.max(30_000, this.#leaseMs));
  }

  #key(...parts: Deno.KvKeyPart[]): Deno.KvKey {
    return ["theta", this.#name, ...parts];
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
   * @param options A delay.
   * @returns The job's id, for `status` and `result`.
   * @throws {TypeError} If there is no such task, or an argument cannot be stored.
   * @throws {RangeError} If `delay` is negative.
   */
  async enqueue<K extends TaskName<M>>(
    name: K,
    args: TaskArgs<M, K>,
    options: EnqueueOptions = {},
  ): Promise<string> {
    if (this.#closed) throw new TypeError("Cannot enqueue a job as the KvPool is closed");
    await this.#tasks.check(name);
    const { delay, key } = enqueueSettings(args, options);
    const now = Date.now();
    const job: JobRecord = {
      id: crypto.randomUUID(),
      task: name,
      args: encode(args, "args").slice(),
      state: "queued",
      attempts: 0,
      enqueuedAt: now,
      notBefore: now + delay,
      leaseUntil: 0,
    };
    const keyKey = key === undefined ? undefined : this.#key("key", key);
    for (;;) {
      if (keyKey !== undefined) {
        // The same key enqueued before: its job's id, while that job's record is kept.
        const existing = await this.#busy(() => this.#kv.get<string>(keyKey));
        if (existing.value !== null) {
          const first = await this.#busy(() =>
            this.#kv.get<JobRecord>(this.#key("job", existing.value!))
          );
          if (first.value !== null) return existing.value;
        }
        let atomic = this.#kv.atomic().check(existing);
        atomic = this.#addJob(atomic, job).set(keyKey, job.id, { expireIn: this.#resultTtl });
        const committed = await this.#busy(() => atomic.commit());
        if (committed.ok) break;
        continue; // another enqueue of this key won: read its id
      }
      const committed = await this.#busy(() => this.#addJob(this.#kv.atomic(), job).commit());
      if (!committed.ok) throw new Error("Cannot enqueue the job: its id is taken (retry)");
      break;
    }
    if (delay === 0) listening.get(this.#kv)?.get(this.#name)?.wake();
    return job.id;
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
    const { value } = await this.#busy(() => this.#kv.get<JobRecord>(this.#key("job", id)));
    return value === null ? undefined : statusOf(value);
  }

  /** Adds a new job's records to `atomic`. */
  #addJob(atomic: Deno.AtomicOperation, job: JobRecord): Deno.AtomicOperation {
    return atomic
      .check({ key: this.#key("job", job.id), versionstamp: null })
      .set(this.#key("job", job.id), job)
      .set(this.#key("ready", job.notBefore, job.id), job);
  }

  /**
   * Removes a job that has not started.
   *
   * @param id The job's id.
   * @returns True if it was queued and is now gone; false if it runs, ran, or is unknown.
   */
  async cancel(id: string): Promise<boolean> {
    if (typeof id !== "string" || id === "") return false;
    for (;;) {
      const entry = await this.#busy(() => this.#kv.get<JobRecord>(this.#key("job", id)));
      const job = entry.value;
      if (job === null || job.state !== "queued") return false;
      const committed = await this.#busy(() =>
        this.#kv.atomic()
          .check(entry)
          .delete(this.#key("job", id))
          .delete(this.#key("ready", job.notBefore, id))
          .commit()
      );
      if (committed.ok) {
        wakeFinishWaiters(`${this.#name}/${id}`);
        return true;
      }
    }
  }

  /**
   * Queues a dead letter again, with its retries and stalls reset.
   *
   * @param id The job's id.
   * @returns True if it was a dead letter and is queued again.
   */
  async retry(id: string): Promise<boolean> {
    if (typeof id !== "string" || id === "") return false;
    for (;;) {
      const dead = await this.#busy(() => this.#kv.get<JobRecord>(this.#key("dead", id)));
      if (dead.value === null) return false;
      const jobEntry = await this.#busy(() => this.#kv.get<JobRecord>(this.#key("job", id)));
      const now = Date.now();
      const { finishedAt: _finished, ...rest } = dead.value;
      const job: JobRecord = {
        ...rest,
        state: "queued",
        attempts: 0,
        stalls: 0,
        notBefore: now,
        leaseUntil: 0,
      };
      const committed = await this.#busy(() =>
        this.#kv.atomic()
          .check(dead)
          .check(jobEntry)
          .delete(this.#key("dead", id))
          .set(this.#key("job", id), job)
          .set(this.#key("ready", job.notBefore, id), job)
          .commit()
      );
      if (committed.ok) {
        listening.get(this.#kv)?.get(this.#name)?.wake();
        return true;
      }
    }
  }

  /**
   * Runs the jobs that are due now in this isolate, then resolves: the form for a `Deno.cron`
   * handler or a request handler (on Deno Deploy, where an isolate lives only while it works).
   *
   * @param options A signal, and the most jobs to run.
   * @returns How many jobs ran.
   * @throws {TypeError} If the pool is closed.
   * @throws {RangeError} If `max` is not a positive integer or Infinity.
   */
  async drain(options: DrainOptions = {}): Promise<number> {
    if (this.#closed) throw new TypeError("Cannot drain as the KvPool is closed");
    const { signal } = options;
    const max = options.max ?? Infinity;
    if (!(max === Infinity || (Number.isInteger(max) && max >= 1))) {
      throw new RangeError(
        `Cannot drain as max must be a positive integer: current value is ${max}`,
      );
    }
    signal?.throwIfAborted();
    let ran = 0;
    const mine: Promise<void>[] = [];
    while (ran < max && !signal?.aborted && !this.#closed) {
      let claimedAny = false;
      for await (const entry of this.#dueJobs()) {
        if (ran >= max || signal?.aborted || this.#closed) break;
        // At most `concurrency` jobs at once in this isolate, listen() included.
        while (this.#running >= this.#concurrency) await Promise.race(this.#runningJobs);
        const claimed = await this.#claim(entry);
        if (claimed === undefined) continue;
        claimedAny = true;
        ran++;
        mine.push(this.#start(claimed.job, claimed.versionstamp));
      }
      if (!claimedAny) break;
    }
    await Promise.allSettled(mine);
    return ran;
  }

  /**
   * Waits for a job to finish.
   *
   * @param id The job's id.
   * @param options An abort signal.
   * @returns Its result.
   * @throws The job's error if it failed; `TypeError` for an unknown id; the signal's reason.
   */
  async result(id: string, options: JobWaitOptions = {}): Promise<unknown> {
    const signal = waitSignal(options);
    signal?.throwIfAborted();
    const waitKey = `${this.#name}/${id}`;
    let wake: () => void = () => {};
    const waiter = (): void => wake();
    let set = finishWaiters.get(waitKey);
    if (set === undefined) finishWaiters.set(waitKey, set = new Set());
    set.add(waiter);
    try {
      // Poll quickly at first: most jobs are short. A job finishing in this isolate wakes us.
      for (let interval = 2;; interval = Math.min(this.#pollInterval, interval * 2)) {
        const job = await this.status(id);
        if (job === undefined) {
          throw new TypeError(`Cannot wait for job ${id} as it does not exist (or expired)`);
        }
        if (job.state === "done") return job.result;
        if (job.state === "failed") throw job.error;
        // Woken early, the sleep ends too: its timer and its abort watch go with it.
        await sleep(interval, signal, new Promise<void>((resolve) => (wake = resolve)));
      }
    } finally {
      set.delete(waiter);
      if (set.size === 0) finishWaiters.delete(waitKey);
    }
  }

  /**
   * Jobs that failed with their retries used up, oldest first.
   *
   * @returns Their statuses.
   */
  async deadLetters(): Promise<JobStatus[]> {
    const out: JobStatus[] = [];
    for await (const entry of this.#kv.list<JobRecord>({ prefix: this.#key("dead") })) {
      out.push(statusOf(entry.value));
    }
    return out.sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
  }

  /**
   * Processes jobs in this isolate until `close()` or the signal aborts: claims due jobs, runs
   * them (at most `concurrency` at once), renews their leases, stores their outcomes.
   *
   * @param options An abort signal: aborting stops claiming jobs (the pool stays open, and may
   * listen again); the jobs already running finish.
   * @returns A promise that resolves once listening ended and the running jobs settled.
   * @throws {TypeError} If already listening or closed.
   */
  listen(options: ListenOptions = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#closed) return Promise.reject(new TypeError("Cannot listen as the KvPool is closed"));
    if (this.#listening !== undefined) {
      return Promise.reject(new TypeError("Cannot listen as this KvPool already listens"));
    }
    // Listeners find jobs by polling the ready keys (and are woken at once by enqueues in this
    // isolate): KV queues are not used, since the new Deno Deploy has none and an app's own
    // listenQueue must keep its messages.
    let pools = listening.get(this.#kv);
    if (pools === undefined) listening.set(this.#kv, pools = new Map());
    if (pools.has(this.#name)) {
      return Promise.reject(
        new TypeError(`Cannot listen as another KvPool named "${this.#name}" listens on this KV`),
      );
    }
    pools.set(this.#name, this);
    const done = this.#listening = Promise.withResolvers<void>();
    const onAbort = (): void => {
      this.#stopListening = true;
      this.#kick?.();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#loop().finally(() => {
      signal?.removeEventListener("abort", onAbort);
      if (pools.get(this.#name) === this) pools.delete(this.#name);
      this.#stopListening = false;
      this.#listening = undefined;
      done.resolve();
    });
    return done.promise;
  }

  /** @internal Makes a listening pool look for jobs now. */
  wake(): void {
    this.#kick?.();
  }

  async #loop(): Promise<void> {
    while (!this.#closed && !this.#stopListening) {
      try {
        await this.#recoverExpiredLeases();
        await this.#claimDueJobs();
      } catch (error) {
        if (this.#closed) break;
        console.error("KvPool listener:", error);
      }
      if (this.#closed || this.#stopListening) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#kick = undefined;
          resolve();
        }, this.#pollInterval);
        this.#kick = () => {
          clearTimeout(timer);
          this.#kick = undefined;
          resolve();
        };
      });
    }
    await Promise.allSettled([...this.#runningJobs]);
  }

  async #claimDueJobs(): Promise<void> {
    const full = (): boolean => this.#closed || this.#running >= this.#concurrency;
    if (full()) return;
    // Listeners that all claim from the head of the due list collide: with 2-4 listener
    // processes, 40% of the job reads found a job another listener had just claimed. Each
    // claims from a shuffled window of due jobs instead, window after window, so jobs it cannot
    // run (no such task here) never hide the ones behind them.
    const size = this.#concurrency * 4;
    let window: ReadyEntry[] = [];
    const claimWindow = async (): Promise<void> => {
      shuffle(window);
      for (const entry of window) {
        if (full()) return;
        const claimed = await this.#claim(entry);
        if (claimed !== undefined) this.#start(claimed.job, claimed.versionstamp);
      }
      window = [];
    };
    for await (const entry of this.#dueJobs()) {
      window.push(entry);
      if (window.length < size) continue;
      await claimWindow();
      if (full()) return;
    }
    await claimWindow();
  }

  /**
   * The ready keys of the jobs due now, oldest first. No limit: jobs this listener lacks the task
   * of are passed over (see #claim), and callers stop as soon as their slots are full.
   */
  #dueJobs(): Deno.KvListIterator<JobRecord | string> {
    return this.#kv.list<JobRecord | string>({
      start: this.#key("ready"),
      end: this.#key("ready", Date.now() + 1),
    }, { batchSize: this.#concurrency * 2 });
  }

  /**
   * Claims a due job from its ready entry. The entry holds the queued job's record and is
   * written and deleted together with it, so checking the entry's versionstamp proves the job is
   * still queued: a claim costs one commit and no read. (A ready entry holding only the id, as
   * theta 0.1 wrote them, is claimed through a read of the record.)
   */
  async #claim(
    ready: ReadyEntry,
  ): Promise<{ job: JobRecord; versionstamp: string } | undefined> {
    let job: JobRecord | null;
    let check: Deno.AtomicCheck;
    if (typeof ready.value === "string") {
      const id = ready.value;
      const entry = await this.#busy(() => this.#kv.get<JobRecord>(this.#key("job", id)));
      job = entry.value;
      check = entry;
    } else {
      job = ready.value;
      check = ready;
    }
    const now = Date.now();
    if (job === null || job.state !== "queued" || job.notBefore > now) return undefined;
    // A listener without the task leaves the job to one that has it: no attempt is used.
    if (!(await this.#tasks.has(job.task))) return undefined;
    const claimed: JobRecord = {
      ...job,
      state: "running",
      attempts: job.attempts + 1,
      leaseUntil: now + this.#leaseMs,
    };
    const committed = await this.#busy(() =>
      this.#kv.atomic()
        .check(check)
        .set(this.#key("job", job.id), claimed)
        .delete(ready.key)
        .set(this.#key("lease", claimed.leaseUntil, job.id), job.id)
        .commit()
    );
    return committed.ok ? { job: claimed, versionstamp: committed.versionstamp } : undefined;
  }

  /** Runs a claimed job, counted against `concurrency`; resolves once it settled. */
  #start(job: JobRecord, versionstamp: string): Promise<void> {
    this.#running++;
    this.#runningIds.add(job.id);
    const run = this.#run(job, versionstamp).finally(() => {
      this.#running--;
      this.#runningIds.delete(job.id);
      this.#runningJobs.delete(run);
      this.#kick?.();
    });
    this.#runningJobs.add(run);
    return run;
  }

  async #run(job: JobRecord, versionstamp: string): Promise<void> {
    let current = { job, versionstamp };
    let lost = false;
    // Renew the lease while the task runs; losing it means another listener took the job over.
    // One renewal at a time, and the outcome waits for it: two commits checked against one
    // versionstamp would fail each other (seen with the store locked longer than a renewal
    // period: the second renewal failed, the job was taken for lost and ran again).
    let renewing: Promise<void> | undefined;
    const renew = setInterval(() => {
      if (renewing !== undefined || lost) return;
      renewing = this.#renewLease(current).then(
        (renewed) => {
          if (renewed === undefined) lost = true;
          else current = renewed;
        },
        () => {}, // the store failed past its busy retries: try again next period
      ).finally(() => (renewing = undefined));
    }, Math.max(10, this.#leaseMs / 3));
    let ok = true;
    let value: unknown;
    try {
      value = await this.#tasks.run(job.task, decode(job.args) as unknown[]);
    } catch (error) {
      ok = false;
      value = error;
    } finally {
      clearInterval(renew);
    }
    await renewing;
    if (lost) return;
    await this.#settle(current, ok, value).catch((error) => {
      console.error(`KvPool: cannot store the outcome of job ${job.id}:`, error);
    });
  }

  async #renewLease(
    current: { job: JobRecord; versionstamp: string },
  ): Promise<{ job: JobRecord; versionstamp: string } | undefined> {
    const { job, versionstamp } = current;
    const renewed: JobRecord = { ...job, leaseUntil: Date.now() + this.#leaseMs };
    const committed = await this.#busy(() =>
      this.#kv.atomic()
        .check({ key: this.#key("job", job.id), versionstamp })
        .set(this.#key("job", job.id), renewed)
        .delete(this.#key("lease", job.leaseUntil, job.id))
        .set(this.#key("lease", renewed.leaseUntil, job.id), job.id)
        .commit()
    );
    return committed.ok ? { job: renewed, versionstamp: committed.versionstamp } : undefined;
  }

  /** Stores a run's outcome: done, a retry per the backoff schedule, or failed (dead letter). */
  async #settle(
    current: { job: JobRecord; versionstamp: string },
    ok: boolean,
    value: unknown,
  ): Promise<void> {
    const { job, versionstamp } = current;
    const now = Date.now();
    const jobKey = this.#key("job", job.id);
    // What to write besides the check; built again for each attempt of the commit.
    let apply: (atomic: Deno.AtomicOperation) => Deno.AtomicOperation;
    // A result that cannot be stored fails the attempt, with a TypeError saying why.
    const outcome = encodeOutcome(ok, value, "the job's result");
    if (outcome.ok) {
      const result = outcome.bytes.slice();
      const done: JobRecord = { ...job, state: "done", result, finishedAt: now, leaseUntil: 0 };
      apply = (atomic) => atomic.set(jobKey, done, { expireIn: this.#resultTtl });
    } else {
      const error = outcome.bytes.slice();
      // Stalls (expired leases) use up no retry: only failed runs count against the schedule.
      const retryIn = this.#backoff[job.attempts - (job.stalls ?? 0) - 1];
      if (retryIn !== undefined) {
        const retry: JobRecord = {
          ...job,
          state: "queued",
          error,
          notBefore: now + retryIn,
          leaseUntil: 0,
        };
        apply = (atomic) =>
          atomic.set(jobKey, retry)
            .set(this.#key("ready", retry.notBefore, job.id), retry);
      } else {
        const failed: JobRecord = {
          ...job,
          state: "failed",
          error,
          finishedAt: now,
          leaseUntil: 0,
        };
        apply = (atomic) =>
          atomic.set(jobKey, failed, { expireIn: this.#resultTtl })
            .set(this.#key("dead", job.id), failed);
      }
    }
    const committed = await this.#busy(() =>
      apply(
        this.#kv.atomic()
          .check({ key: jobKey, versionstamp })
          .delete(this.#key("lease", job.leaseUntil, job.id)),
      ).commit()
    );
    if (committed.ok) wakeFinishWaiters(`${this.#name}/${job.id}`);
  }

  /**
   * A running job whose lease expired: its listener died or stalled. It runs again (a stall uses
   * up no retry) until it stalled more than `maxStalls` times; then it is a dead letter.
   */
  async #stall(
    current: { job: JobRecord; versionstamp: string },
    leaseKey: Deno.KvKey,
  ): Promise<void> {
    const { job, versionstamp } = current;
    const now = Date.now();
    const jobKey = this.#key("job", job.id);
    const stalls = (job.stalls ?? 0) + 1;
    const error = encodeOutcome(
      false,
      new Error(
        `The listener running job ${job.id} stopped renewing its lease (it crashed, was killed or stalled)`,
      ),
      "the error",
    ).bytes.slice();
    const atomic = this.#kv.atomic().check({ key: jobKey, versionstamp }).delete(leaseKey);
    if (stalls > this.#maxStalls) {
      const failed: JobRecord = {
        ...job,
        state: "failed",
        stalls,
        error,
        finishedAt: now,
        leaseUntil: 0,
      };
      atomic.set(jobKey, failed, { expireIn: this.#resultTtl }).set(
        this.#key("dead", job.id),
        failed,
      );
    } else {
      const again: JobRecord = {
        ...job,
        state: "queued",
        stalls,
        error,
        notBefore: now,
        leaseUntil: 0,
      };
      atomic.set(jobKey, again).set(this.#key("ready", now, job.id), again);
    }
    const committed = await this.#busy(() => atomic.commit());
    if (committed.ok && stalls > this.#maxStalls) wakeFinishWaiters(`${this.#name}/${job.id}`);
  }

  /** Jobs whose listener stopped renewing its lease: stalls (see #stall). */
  async #recoverExpiredLeases(): Promise<void> {
    const expired = this.#kv.list<string>({
      start: this.#key("lease"),
      end: this.#key("lease", Date.now()),
    }, { limit: 16 });
    for await (const entry of expired) {
      const record = await this.#busy(() => this.#kv.get<JobRecord>(this.#key("job", entry.value)));
      const job = record.value;
      // A job this listener runs is alive, whatever its lease says: its renewal may have been held
      // up by a locked store, and its outcome is on the way.
      if (job !== null && this.#runningIds.has(job.id)) continue;
      if (job === null || job.state !== "running" || job.leaseUntil > Date.now()) {
        await this.#busy(() => this.#kv.atomic().check(entry).delete(entry.key).commit());
        continue;
      }
      await this.#stall({ job, versionstamp: record.versionstamp! }, entry.key);
    }
  }

  /**
   * Stops listening; resolves once the jobs running here settled. Jobs still queued stay in KV
   * for other listeners, or for the next `listen()`. The KV itself stays open.
   *
   * @returns A promise that resolves once closed.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pools = listening.get(this.#kv);
    if (pools?.get(this.#name) === this) pools.delete(this.#name);
    this.#kick?.();
    await this.#listening?.promise;
    await this.#tasks.close();
  }

  /** Closes the pool. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Shuffles `items` in place (Fisher-Yates). */
function shuffle(items: unknown[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}

function statusOf(job: JobRecord): JobStatus {
  const status: JobStatus = {
    id: job.id,
    task: job.task,
    state: job.state,
    attempts: job.attempts,
    stalls: job.stalls ?? 0,
    enqueuedAt: job.enqueuedAt,
    notBefore: job.notBefore,
  };
  if (job.result !== undefined) status.result = decode(job.result);
  if (job.error !== undefined) status.error = decode(job.error) as Error;
  if (job.finishedAt !== undefined) status.finishedAt = job.finishedAt;
  return status;
}
