// Copyright theta authors. MIT license.
// The engine of `Pool.map`: pulls chunks from the source as results are consumed, keeps at most
// `concurrency` chunks in flight, and on an early exit (break, error, abort) cancels what is in
// flight and closes the source, so upstream stages stop too.

/** The error of a named pipeline stage, naming it, caused by the task's error. */
export function stageError(stage: string, error: unknown): Error {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new Error(`Cannot complete pipeline stage "${stage}": ${message}`, { cause: error });
}

/** `promise`, or the signal's reason as soon as it aborts (the listener is removed either way). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** How `mapLazily` runs one chunk. */
export type RunChunk<T, R> = (chunk: T[], signal: AbortSignal) => Promise<R[]>;

/** Options of `mapLazily`, already validated. */
export interface MapLazilyOptions {
  chunkSize: number;
  concurrency: number;
  ordered: boolean;
  signal: AbortSignal | undefined;
  /** Called as each chunk's results are yielded, with the items done so far. */
  onDone: ((done: number) => void) | undefined;
}

/**
 * Maps `items` through `runChunk`, lazily.
 *
 * @returns The results, in item order if `ordered`, else as chunks finish.
 */
export async function* mapLazily<T, R>(
  runChunk: RunChunk<T, R>,
  items: Iterable<T> | AsyncIterable<T>,
  options: MapLazilyOptions,
): AsyncGenerator<R, void, undefined> {
  const { chunkSize, concurrency, ordered, signal, onDone } = options;
  signal?.throwIfAborted();
  const stop = new AbortController();
  const combined = signal === undefined ? stop.signal : AbortSignal.any([signal, stop.signal]);
  // Not `in`: it throws on a string, which is iterable.
  const source = typeof (items as Partial<AsyncIterable<T>>)[Symbol.asyncIterator] === "function"
    ? (items as AsyncIterable<T>)[Symbol.asyncIterator]()
    : (items as Iterable<T>)[Symbol.iterator]();
  type Outcome = { kind: "results"; flight: Flight; results: R[] } | { kind: "chunk"; chunk: T[] };
  type Flight = { promise: Promise<Outcome> };
  const inFlight: Flight[] = [];
  let exhausted = false;
  // The chunk being gathered from the source, if any: one at a time, and never awaited alone,
  // so results that are ready are yielded while a slow source is still being read.
  let gathering: Promise<Outcome> | undefined;
  let done = 0;
  const gather = async (): Promise<Outcome> => {
    const chunk: T[] = [];
    while (chunk.length < chunkSize) {
      const next = await source.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      chunk.push(next.value);
    }
    return { kind: "chunk", chunk };
  };
  try {
    for (;;) {
      combined.throwIfAborted();
      if (gathering === undefined && !exhausted && inFlight.length < concurrency) {
        gathering = gather();
        gathering.catch(() => {}); // surfaces below when awaited
      }
      if (gathering === undefined && inFlight.length === 0) return;
      const waits: Promise<Outcome>[] = [];
      if (gathering !== undefined) waits.push(gathering);
      if (ordered) {
        if (inFlight.length > 0) waits.push(inFlight[0]!.promise);
      } else {
        for (const flight of inFlight) waits.push(flight.promise);
      }
      const outcome = await abortable(Promise.race(waits), combined);
      if (outcome.kind === "chunk") {
        gathering = undefined;
        if (outcome.chunk.length === 0) continue;
        const flight = {} as Flight;
        flight.promise = runChunk(outcome.chunk, combined).then((results) => ({
          kind: "results" as const,
          flight,
          results,
        }));
        // Errors surface when the flight is awaited; until then they must not count as unhandled.
        flight.promise.catch(() => {});
        inFlight.push(flight);
        continue;
      }
      inFlight.splice(inFlight.indexOf(outcome.flight), 1);
      for (const result of outcome.results) {
        combined.throwIfAborted();
        yield result;
      }
      done += outcome.results.length;
      onDone?.(done);
    }
  } finally {
    stop.abort(new DOMException("The map was abandoned", "AbortError"));
    // A source's return() runs after its pending next() settles, so closing an upstream stage
    // waits for its chunk in flight. A stalled source would never get there: an aborted
    // signal stops the wait (the source is still asked to close).
    const closing = Promise.resolve(source.return?.()).catch(() => {});
    await (signal === undefined ? closing : abortable(closing, signal).catch(() => {}));
  }
}
