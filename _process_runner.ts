// Copyright theta authors. MIT license.
// The child side of `isolation: "process"` (fandango's WorkerProcess): a `deno run` process that
// reads requests from stdin and writes replies to stdout, as length-prefixed frames of theta's
// codec carrying the pool protocol's records (_pool/protocol.ts). One task at a time. Its parent
// ends it with SIGKILL (timeout, abort, terminate, close), which always works, unlike
// Worker.terminate() on a busy thread.

import { decode, encode, Encoded, encodeOutcome } from "./_codec.ts";
import { FrameReader, writeFrame } from "./_pool/frames.ts";
import { holdOpen } from "./_futex.ts";
import {
  MODE_EACH,
  readRequest,
  REPLY_ERROR,
  REPLY_OK,
  REPLY_PROGRESS,
  REPLY_START_FAILED,
  REPLY_STRAY,
  replyRecord,
} from "./_pool/protocol.ts";
import { CurrentTask, taskContext } from "./_pool/task_context.ts";
import { compileFunction, moduleExport, runTask } from "./_worker/task_function.ts";
import { explainScopeError } from "./_worker/pool_worker.ts";

const out = Deno.stdout.writable.getWriter();

/** Writes one reply frame; a value that cannot be encoded becomes the task's TypeError. */
async function reply(kind: number, id: number, value: unknown, runMs = 0): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = encode(replyRecord(kind, id, value, runMs), "the task's result").slice();
  } catch (error) {
    const outcome = encodeOutcome(false, error, "the error");
    bytes = encode(replyRecord(REPLY_ERROR, id, new Encoded(outcome.bytes.slice()), runMs))
      .slice();
  }
  await writeFrame(out, bytes);
}

/** Sends an error with its class, message, stack and cause. */
function errorValue(error: unknown): Encoded {
  return new Encoded(encodeOutcome(false, error, "the error").bytes.slice());
}

let pending: Promise<void> = Promise.resolve();
/** Replies in order, even those sent from a progress call or a stray error handler. */
function send(kind: number, id: number, value: unknown, runMs = 0): void {
  pending = pending.then(() => reply(kind, id, value, runMs));
}

addEventListener("error", (event) => {
  event.preventDefault();
  send(REPLY_STRAY, 0, errorValue((event as ErrorEvent).error ?? (event as ErrorEvent).message));
});
addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  send(REPLY_STRAY, 0, errorValue((event as PromiseRejectionEvent).reason));
});

const moduleUrl = Deno.args[0] === "-" ? undefined : Deno.args[0];
let module: Record<string, unknown> | undefined;
try {
  if (moduleUrl !== undefined) {
    module = await import(moduleUrl);
    const setup = module?.setup;
    if (typeof setup === "function") await setup();
  }
} catch (error) {
  send(REPLY_START_FAILED, 0, errorValue(error));
  await pending;
  Deno.exit(1);
}

CurrentTask.install();
(globalThis as { theta?: unknown }).theta = { taskContext };
const functions = new Map<number, (...args: unknown[]) => unknown>();
const never = new AbortController().signal; // cancellation is SIGKILL: no cooperative signal

for await (const frame of new FrameReader(Deno.stdin.readable)) {
  const request = readRequest(decode(frame));
  const { id, ref, source } = request;
  let ok = true;
  let value: unknown;
  const started = performance.now();
  // A task awaiting something that holds no timer or I/O (a promise that never settles) must
  // not let the process end: its parent decides when it ends.
  const keepAlive = holdOpen();
  CurrentTask.context = {
    id,
    signal: never,
    progress: (progress: unknown) => send(REPLY_PROGRESS, id, progress),
  };
  try {
    let fn: (...args: unknown[]) => unknown;
    if (typeof ref === "number") {
      fn = functions.get(ref) ?? compileFunction(source!);
      functions.set(ref, fn);
    } else {
      fn = moduleExport(module, ref);
    }
    const args = request.args as unknown[];
    value = await runTask(fn, request.mode === MODE_EACH, args);
  } catch (error) {
    ok = false;
    value = typeof ref === "number" ? explainScopeError(error) : error;
  }
  clearInterval(keepAlive);
  CurrentTask.context = undefined;
  send(
    ok ? REPLY_OK : REPLY_ERROR,
    id,
    ok ? value : errorValue(value),
    performance.now() - started,
  );
  await pending;
}
