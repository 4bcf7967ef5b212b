// Copyright theta authors. MIT license.
// A theta worker with a heap limit: a `node:worker_threads` Worker dressed as the Web Worker
// theta's handles drive (onmessage, onerror, addEventListener("message"), postMessage,
// terminate).
//
// Why: an out-of-memory Web Worker aborts the whole Deno process, while a node:worker_threads
// Worker with `resourceLimits` is terminated alone with ERR_WORKER_OUT_OF_MEMORY (Deno 2.9.6).
// It runs the same bundled runtime, from a data: URL, behind a prelude that gives it the Web
// Worker globals the runtime uses (self, onmessage, postMessage, close).
//
// Deno 2.9.6 reports the limit (ERR_WORKER_OUT_OF_MEMORY, then exit) only when it is reached
// inside a macrotask (a timer, setImmediate). Reached inside the port's message callback or a
// promise continuation (code after an await), it stops that JavaScript, reports nothing, and the
// worker lives on without its task. So the prelude delivers each message from a timer, and pool
// workers start each task from setImmediate (PoolWorkerInit.macrotaskTurns): a synchronous task,
// and one that grows in timer callbacks, are reported; one that grows after awaits may need its
// task timeout. Checked with a worker that hoards arrays in each of those places.

/** The part of a Web Worker that theta's handles use. */
export interface WorkerLike {
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: ErrorEvent) => void) | null;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  postMessage(message: unknown, transfer?: Transferable[]): void;
  terminate(): void;
}

/** What theta uses of a node:worker_threads Worker. */
interface NodeWorker {
  on(event: "message", listener: (data: unknown) => void): void;
  on(event: "error", listener: (error: Error & { code?: string }) => void): void;
  on(event: "exit", listener: (code: number) => void): void;
  postMessage(message: unknown, transfer?: readonly Transferable[]): void;
  terminate(): Promise<number>;
}

type NodeWorkerConstructor = new (
  url: URL,
  options: { name?: string; resourceLimits: { maxOldGenerationSizeMb: number } },
) => NodeWorker;

/** Gives the bundled runtime the Web Worker globals it uses, on a node:worker_threads port. */
const NODE_PRELUDE = `import { parentPort as thetaPort } from "node:worker_threads";
globalThis.self = globalThis;
globalThis.onmessage = null;
globalThis.postMessage = (message, transfer) => thetaPort.postMessage(message, transfer);
globalThis.close = () => process.exit(0);
thetaPort.on("message", (data) => setTimeout(() => globalThis.onmessage?.({ data }), 0));
`;

/** A theta worker on node:worker_threads, with a heap limit. */
export class NodeThread implements WorkerLike {
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  readonly #listeners: ((event: MessageEvent) => void)[] = [];
  readonly #worker: NodeWorker;
  #ended = false;

  /**
   * @param source The worker's bundled source (ES module).
   * @param name The worker's name.
   * @param maxMemoryMb Its heap limit (V8's old generation), in MiB.
   */
  constructor(source: string, name: string, maxMemoryMb: number) {
    const process = (globalThis as {
      process: { getBuiltinModule(id: string): { Worker: NodeWorkerConstructor } };
    }).process;
    const { Worker } = process.getBuiltinModule("node:worker_threads");
    const bytes = new TextEncoder().encode(NODE_PRELUDE + source);
    const url = new URL(`data:text/javascript;base64,${bytes.toBase64()}`);
    this.#worker = new Worker(url, {
      name,
      resourceLimits: { maxOldGenerationSizeMb: maxMemoryMb },
    });
    this.#worker.on("message", (data) => this.#dispatch(data));
    this.#worker.on("error", (error) => {
      const message = error.code === "ERR_WORKER_OUT_OF_MEMORY"
        ? `The worker ran out of memory (its heap limit, maxMemoryMb, is ${maxMemoryMb} MiB)`
        : error.message;
      this.#fail(message, error);
    });
    // An exit nobody asked for (process.exit in a task, or close()): reported like a crash.
    this.#worker.on("exit", (code) => this.#fail(`The worker exited (code ${code})`, undefined));
  }

  addEventListener(_type: "message", listener: (event: MessageEvent) => void): void {
    this.#listeners.push(listener);
  }

  postMessage(message: unknown, transfer: Transferable[] = []): void {
    this.#worker.postMessage(message, transfer);
  }

  terminate(): void {
    this.#ended = true;
    this.#worker.terminate().catch(() => {});
  }

  #dispatch(data: unknown): void {
    let stopped = false;
    const event = {
      data,
      stopImmediatePropagation: () => (stopped = true),
    } as unknown as MessageEvent;
    for (const listener of this.#listeners) {
      listener(event);
      if (stopped) return;
    }
    this.onmessage?.(event);
  }

  #fail(message: string, error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    const event = { message, error, preventDefault: () => {} } as unknown as ErrorEvent;
    this.onerror?.(event);
  }
}
