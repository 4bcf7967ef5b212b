// Copyright theta authors. MIT license.
// A pool worker that is a child `deno` process (`isolation: "process"`, fandango's
// WorkerProcess): requests and replies travel as codec frames over its stdin and stdout (see
// _process_runner.ts). Ending it is SIGKILL, which stops it wherever it is: a runaway loop, an
// out-of-memory heap, a task that never yields.

import { decode, encode } from "../_codec.ts";
import { FrameReader, writeFrame } from "./frames.ts";
import {
  type Handle,
  HandleBase,
  type HandleEvents,
  NO_REPLIES,
  type SendStatus,
} from "./handle.ts";
import { encodeArgs } from "./payload.ts";
import type { Job } from "./job.ts";
import { readReply, REQUEST_CALL, requestRecord } from "./protocol.ts";

/**
 * Deno permissions for a process worker, as `deno run` flags: `true` allows all, a list allows
 * those paths, hosts or names. The module's own read (or net) access is always added.
 */
export interface ProcessPermissions {
  /** `--allow-read`. */
  read?: boolean | string[];
  /** `--allow-write`. */
  write?: boolean | string[];
  /** `--allow-net`. */
  net?: boolean | string[];
  /** `--allow-env`. */
  env?: boolean | string[];
  /** `--allow-run`. */
  run?: boolean | string[];
  /** `--allow-sys`. */
  sys?: boolean | string[];
  /** `--allow-ffi`. */
  ffi?: boolean | string[];
}

/** The script every process worker runs. */
export const RUNNER_URL: URL = new URL("../_process_runner.ts", import.meta.url);

/**
 * The `deno run` flags of a process worker: what it needs to load theta's runner and the task
 * module (read access to their files, or net access to their hosts), plus `permissions`.
 *
 * @throws {TypeError} If a permission is neither a boolean nor a list of strings.
 */
export function permissionFlags(
  module: string | undefined,
  permissions: ProcessPermissions = {},
): string[] {
  const grants = new Map<string, true | Set<string>>();
  const grant = (name: string, value: boolean | string[] | undefined): void => {
    if (value === undefined || value === false) return;
    if (value === true) {
      grants.set(name, true);
      return;
    }
    if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
      throw new TypeError(
        `Cannot create the pool as permissions.${name} must be a boolean or a list of strings: current value is ${
          JSON.stringify(value)
        }`,
      );
    }
    const current = grants.get(name);
    if (current === true) return;
    const set = current ?? new Set<string>();
    for (const item of value) set.add(item);
    grants.set(name, set);
  };
  for (const [name, value] of Object.entries(permissions)) {
    if (!["read", "write", "net", "env", "run", "sys", "ffi"].includes(name)) {
      throw new TypeError(
        `Cannot create the pool as permissions has no "${name}": use read, write, net, env, run, sys or ffi`,
      );
    }
    grant(name, value as boolean | string[] | undefined);
  }
  // What loading the code needs: theta's own files and the task module.
  for (
    const url of [new URL(".", RUNNER_URL), module === undefined ? undefined : new URL(module)]
  ) {
    if (url === undefined) continue;
    if (url.protocol === "file:") grant("read", [decodeURIComponent(url.pathname)]);
    else if (url.protocol === "http:" || url.protocol === "https:") grant("net", [url.host]);
  }
  return [...grants].map(([name, value]) =>
    value === true ? `--allow-${name}` : `--allow-${name}=${[...value].join(",")}`
  );
}

/** A pool worker in a child process. */
export class ProcessHandle extends HandleBase implements Handle {
  readonly #child: Deno.ChildProcess;
  /** Resolves once the process has exited and been reaped: what `retire` returns, every time. */
  readonly #reaped: Promise<void>;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #functions: Set<number> = new Set();
  #writing: Promise<void> = Promise.resolve();

  /**
   * Starts the process.
   *
   * @param module The task module's URL, if any.
   * @param flags `deno run` flags: permissions, V8 flags.
   * @param events Where replies and its death go.
   */
  constructor(module: string | undefined, flags: string[], events: HandleEvents) {
    super();
    const child = this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--no-prompt", ...flags, RUNNER_URL.href, module ?? "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#reaped = child.status.then(() => {});
    this.#stdin = child.stdin.getWriter();
    this.#stdin.closed.catch(() => {}); // a killed child's pipe errors: its status says why
    this.#read(child.stdout, events);
    child.status.then((status) => {
      if (this.dead) return;
      const how = status.signal !== null
        ? `signal ${status.signal}`
        : `code ${status.code}${status.code === 133 ? " (out of memory?)" : ""}`;
      events.onError(this, `its process exited with ${how}`);
    });
  }

  /** Hands every reply frame to the pool, until the process's stdout ends. */
  async #read(stdout: ReadableStream<Uint8Array>, events: HandleEvents): Promise<void> {
    try {
      for await (const frame of new FrameReader(stdout)) {
        if (this.dead) break;
        events.onReply(this, readReply(decode(frame)));
      }
    } catch {
      // The pipe broke: the process died, and its status reports it.
    }
  }

  /** A process takes a job only when idle: a job sent to it runs at once. */
  get hasTicket(): boolean {
    return this.jobs.length === 0;
  }

  /** Replies come from stdout (HandleEvents.onReply), never from a ring. */
  hasReplies(): boolean {
    return false;
  }

  /** None: see hasReplies. */
  takeReplies(): readonly unknown[] {
    return NO_REPLIES;
  }

  /** Writes `job` to the process's stdin. */
  send(job: Job<Handle>): SendStatus {
    const payload = encodeArgs(job, false)!; // never null for processes: it throws instead
    const needsSource = typeof job.ref === "number" && !this.#functions.has(job.ref);
    const bytes = encode(
      requestRecord(
        REQUEST_CALL,
        job.id,
        job.ref,
        needsSource ? job.source : undefined,
        payload,
        job.mode,
        0,
      ),
      "the task",
    ).slice();
    if (needsSource) this.#functions.add(job.ref as number);
    this.#writing = this.#writing.then(() => writeFrame(this.#stdin, bytes)).catch(() => {});
    this.attach(job, "running", 0); // sent only when idle: it starts at once
    return "sent";
  }

  /** A job sent to a process runs: it cannot be taken back. */
  steal(job: Job<Handle>): boolean {
    job.state = "running";
    return false;
  }

  evacuate(): { unstarted: Job<Handle>[]; running: Job<Handle> | undefined } {
    return { unstarted: [], running: this.jobs.peek() };
  }

  /** Nothing to tell: the process is killed (see retire). */
  cancel(_id: number, _kind: number): void {}

  /** Kills the process (SIGKILL: it stops wherever it is) and reaps it. */
  retire(): Promise<void> {
    if (!this.markDead()) return this.#reaped;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    this.#stdin.close().catch(() => {});
    return this.#reaped;
  }
}
