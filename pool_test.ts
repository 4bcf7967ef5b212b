import assert from "node:assert/strict";
import {
  BackgroundError,
  LocalExecutor,
  parallelise,
  Pool,
  PoolClosed,
  QueueFull,
  taskContext,
  WorkerCrashed,
} from "./pool.ts";
import { EvictingQueue } from "./queue.ts";
import { waitAsync } from "./_futex.ts";
import { Event } from "./sync.ts";
import { countListeners } from "./testdata/listener_count.ts";
import { within } from "./testdata/within.ts";

const TASKS = new URL("./testdata/tasks.ts", import.meta.url);
type Tasks = typeof import("./testdata/tasks.ts");

Deno.test("Pool runs function tasks", async (t) => {
  await using pool = new Pool({ size: 2 });

  await t.step("sync and async functions, run and submit", async () => {
    assert.equal(await pool.run((a: number, b: number) => a + b, [2, 3]), 5);
    assert.equal(await pool.submit((x: number) => x * 10, 4), 40);
    const slow = async (x: number): Promise<string> => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return `done ${x}`;
    };
    assert.deepEqual(await Promise.all([1, 2, 3].map((x) => pool.run(slow, [x]))), [
      "done 1",
      "done 2",
      "done 3",
    ]);
  });

  await t.step("method shorthand and complex values", async () => {
    const tasks = {
      describe(value: { when: Date; tags: Set<string> }): [number, number] {
        return [value.when.getTime(), value.tags.size];
      },
    };
    const result = await pool.run(tasks.describe, [{ when: new Date(5), tags: new Set(["a"]) }]);
    assert.deepEqual(result, [5, 1]);
  });

  await t.step("a throwing task rejects only itself, keeping its error's class", async () => {
    const fail = (): never => {
      throw new RangeError("out of range", { cause: "detail" });
    };
    const [failed, fine] = await Promise.allSettled([
      pool.run(fail),
      pool.run((x: number) => x, [1]),
    ]);
    assert.equal(failed.status, "rejected");
    const error = (failed as PromiseRejectedResult).reason;
    assert.ok(error instanceof RangeError);
    assert.equal(error.message, "out of range");
    assert.equal(error.cause, "detail");
    assert.match(error.stack ?? "", /out of range/);
    assert.deepEqual(fine, { status: "fulfilled", value: 1 });
  });

  await t.step("uncloneable arguments reject at once, naming the path; nothing runs", async () => {
    const before = pool.stats.completed;
    await assert.rejects(
      pool.run((x: unknown) => x, [{ callback: () => 1 }]),
      (error: unknown) => error instanceof TypeError && /args\[0\]\.callback/.test(error.message),
    );
    assert.equal(pool.stats.completed, before);
  });

  await t.step("uncloneable results reject with a TypeError", async () => {
    await assert.rejects(pool.run(() => () => 1), TypeError);
  });

  await t.step("shareable arguments arrive as the same objects", async () => {
    const queue = new EvictingQueue<string>();
    const ready = new Event();
    await pool.run((q: EvictingQueue<string>, e: Event) => {
      q.put("from the worker");
      e.set();
    }, [queue, ready]);
    assert.equal(queue.get(1000), "from the worker");
    assert.ok(ready.isSet());
  });

  await t.step("native and bound functions are refused", async () => {
    await assert.rejects(pool.run(Math.max, [1, 2]), TypeError);
    await assert.rejects(pool.run(((x: number) => x).bind(null), [1]), TypeError);
  });

  await t.step("bad arguments", async () => {
    await assert.rejects(pool.run(42 as never), TypeError);
    await assert.rejects(pool.run((x: number) => x, 1 as never), TypeError);
    await assert.rejects(pool.run((x: number) => x, [1], { timeout: -1 }), RangeError);
  });
});

Deno.test("Pool runs module tasks by name, typed", async (t) => {
  await using pool = new Pool<Tasks>({ size: 1, module: TASKS });

  await t.step("exports by name", async () => {
    const sum: number = await pool.run("add", [2, 40]);
    assert.equal(sum, 42);
    assert.equal(await pool.run("slowDouble", [21, 1]), 42);
  });

  await t.step("a custom error keeps its name, message and cause", async () => {
    await assert.rejects(pool.run("parse", ["x"]), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.equal(error.name, "ParseFailure");
      assert.equal(error.message, "not a number: x");
      assert.equal(error.cause, "x");
      return true;
    });
  });

  await t.step("unknown or non-function exports are clear errors", async () => {
    await assert.rejects(pool.run("missing" as never, []), /no function export/);
    await assert.rejects(pool.run("notAFunction" as never, []), /no function export/);
  });
});

Deno.test("Pool survives workers that die", async (t) => {
  await using pool = new Pool({ size: 2 });

  await t.step("self.close() rejects the task with WorkerCrashed", async () => {
    await assert.rejects(pool.run(() => self.close()), WorkerCrashed);
    assert.equal(await pool.run((x: number) => x + 1, [1]), 2);
  });

  await t.step("Deno.exit() rejects the task with WorkerCrashed", async () => {
    await assert.rejects(pool.run(() => Deno.exit(3)), WorkerCrashed);
    assert.equal(await pool.run((x: number) => x + 1, [2]), 3);
  });

  await t.step("an uncaught error outside the task's promise", async () => {
    await assert.rejects(
      pool.run(() =>
        new Promise(() => {
          setTimeout(() => {
            throw new Error("escaped");
          }, 1);
        })
      ),
      (error: unknown) => error instanceof WorkerCrashed && /escaped/.test(error.message),
    );
    assert.equal(await pool.run((x: number) => x + 1, [3]), 4);
  });

  await t.step(
    "an idle worker a left-behind timer ends is replaced: the next task runs",
    async () => {
      for (const how of ["close", "exit"]) {
        await using one = new Pool({ size: 1 });
        const ended = new Event();
        await one.run((ended: Event, how: string) => {
          setTimeout(() => {
            ended.set();
            if (how === "close") self.close();
            else Deno.exit(1);
          }, 10);
          return 1;
        }, [ended, how]);
        await within(ended.waitAsync(), 5000, "the idle worker's timer");
        assert.equal(await one.run((x: number) => x + 1, [1]), 2, how);
        assert.equal(one.stats.failed, 0, how);
      }
    },
  );

  await t.step("a task's own postMessage to the pool is ignored", async () => {
    for (const message of ["text", 42, null, { junk: 1 }, { id: "x" }, { repliesWaiting: 1 }]) {
      const value = await pool.run((message: unknown) => {
        (self as unknown as { postMessage(value: unknown): void }).postMessage(message);
        return "ran";
      }, [message]);
      assert.equal(value, "ran");
    }
    assert.equal(await pool.run((x: number) => x + 1, [4]), 5);
  });

  await t.step("10k tasks with crashes injected: no task lost, none hangs", async () => {
    const crashes = new Set(Array.from({ length: 40 }, (_, i) => 137 + i * 241));
    const task = (i: number, crash: boolean): number => {
      if (crash) self.close();
      return i * 2;
    };
    const results = await Promise.allSettled(
      Array.from({ length: 10_000 }, (_, i) => pool.run(task, [i, crashes.has(i)])),
    );
    results.forEach((result, i) => {
      if (crashes.has(i)) {
        assert.equal(result.status, "rejected", `task ${i} should have crashed`);
        assert.ok((result as PromiseRejectedResult).reason instanceof WorkerCrashed);
      } else {
        assert.deepEqual(result, { status: "fulfilled", value: i * 2 }, `task ${i}`);
      }
    });
    assert.ok(pool.stats.workers <= 2);
  });
});

Deno.test("Pool timeouts and aborts", async (t) => {
  await t.step("a runaway task times out; its worker is replaced", async () => {
    await using pool = new Pool({ size: 1 });
    const started = performance.now();
    await assert.rejects(
      pool.run(
        () => {
          while (true) { /* runaway */ }
        },
        [],
        { timeout: 100 },
      ),
      (error: unknown) => error instanceof DOMException && error.name === "TimeoutError",
    );
    assert.ok(performance.now() - started < 5000);
    assert.equal(await pool.run((x: number) => x, [7]), 7);
  });

  await t.step("the pool's default timeout applies", async () => {
    await using pool = new Pool({ size: 1, timeout: 50 });
    await assert.rejects(
      pool.run(() => new Promise(() => {})),
      { name: "TimeoutError" },
    );
  });

  await t.step("an aborted queued task never runs", async () => {
    await using pool = new Pool({ size: 1 });
    const gate = new Event();
    const ran = new Event();
    const blocker = pool.run((g: Event) => g.wait(5000), [gate]);
    const controller = new AbortController();
    const queued = pool.run((r: Event) => r.set(), [ran], { signal: controller.signal });
    controller.abort(new Error("not wanted"));
    await assert.rejects(queued, /not wanted/);
    gate.set();
    assert.equal(await blocker, true);
    assert.equal(await pool.run((x: number) => x, [1]), 1);
    assert.equal(ran.isSet(), false);
  });

  await t.step("a task sent ahead to a busy worker and cancelled never runs", async () => {
    await using pool = new Pool({ size: 1 });
    const counter = new SharedArrayBuffer(4);
    const count = (c: SharedArrayBuffer, ms: number): Promise<number> =>
      new Promise((resolve) => setTimeout(() => resolve(Atomics.add(new Int32Array(c), 0, 1)), ms));
    const first = pool.run(count, [counter, 50]);
    const second = pool.run(count, [counter, 0], { timeout: 10 });
    await assert.rejects(second, { name: "TimeoutError" });
    await first;
    await pool.run((x: number) => x, [0]);
    assert.equal(new Int32Array(counter)[0], 1);
  });

  await t.step("a function whose first task was cancelled still runs later", async () => {
    await using pool = new Pool({ size: 1 });
    const gate = new Event();
    const blocker = pool.run((g: Event) => g.wait(5000), [gate]);
    const triple = (x: number): number => x * 3;
    // Sent ahead to the busy worker with the function's source, then cancelled unclaimed.
    await assert.rejects(pool.run(triple, [1], { timeout: 10 }), { name: "TimeoutError" });
    gate.set();
    assert.equal(await blocker, true);
    assert.equal(await pool.run(triple, [2]), 6);
  });

  await t.step("an aborted running task ends its worker, not the others' tasks", async () => {
    await using pool = new Pool({ size: 2 });
    const controller = new AbortController();
    const running = pool.run(() => new Promise(() => {}), [], { signal: controller.signal });
    const other = pool.run(async (x: number) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return x;
    }, [5]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort(new DOMException("stop", "AbortError"));
    await assert.rejects(running, { name: "AbortError" });
    assert.equal(await other, 5);
  });

  await t.step("many tasks under one signal: one listener, all cancelled in order", async () => {
    // An EventTarget removes a listener by scanning its list: a listener per task made a burst
    // of 20000 tasks under one signal 30 times slower (quadratic). The pool keeps one per signal.
    await using pool = new Pool({ size: 1 });
    const controller = new AbortController();
    const signal = controller.signal;
    const listeners = countListeners(signal);
    const done = await Promise.all(
      Array.from({ length: 200 }, (_, i) => pool.run((x: number) => x, [i], { signal })),
    );
    assert.deepEqual(done, Array.from({ length: 200 }, (_, i) => i));
    assert.equal(listeners.most, 1);
    assert.equal(listeners.live, 0); // removed once no task watches it
    const gate = new Event();
    const blocker = pool.run((g: Event) => g.wait(5000), [gate]);
    const order: number[] = [];
    const queued = Array.from(
      { length: 100 },
      (_, i) =>
        pool.run((x: number) => x, [i], { signal }).catch((error) => {
          order.push(i);
          throw error;
        }),
    );
    controller.abort(new Error("batch cancelled"));
    for (const task of queued) await assert.rejects(task, /batch cancelled/);
    assert.deepEqual(order, Array.from({ length: 100 }, (_, i) => i));
    gate.set();
    assert.equal(await blocker, true);
    await assert.rejects(pool.run((x: number) => x, [1], { signal }), /batch cancelled/);
    assert.equal(listeners.most, 1); // the one listener (`once`: the abort removed it) served all 100
  });

  await t.step("an already aborted signal rejects at once", async () => {
    await using pool = new Pool({ size: 1 });
    await assert.rejects(
      pool.run((x: number) => x, [1], { signal: AbortSignal.abort(new Error("early")) }),
      /early/,
    );
  });
});

Deno.test("Pool limits, close and terminate", async (t) => {
  await t.step("maxQueue rejects with QueueFull", async () => {
    await using pool = new Pool({ size: 1, maxQueue: 1 });
    const gate = new Event();
    const busy = [0, 1].map(() => pool.run((g: Event) => g.wait(5000), [gate]));
    await assert.rejects(pool.run((x: number) => x, [1]), QueueFull);
    gate.set();
    await Promise.all(busy);
  });

  await t.step("close resolves once every worker it started is ended", async () => {
    // A program that exits right after `await pool.close()` must not exit under workers still
    // being ended (their end used to come from timers after close resolved). terminate()
    // resolves at once: see Pool.terminate.
    const RealWorker = globalThis.Worker;
    const workers: { ended: boolean }[] = [];
    class CountedWorker extends RealWorker {
      readonly record = { ended: false };
      constructor(...args: ConstructorParameters<typeof RealWorker>) {
        super(...args);
        workers.push(this.record);
      }
      override terminate(): void {
        this.record.ended = true;
        super.terminate();
      }
    }
    globalThis.Worker = CountedWorker;
    try {
      const closing = new Pool({ size: 2 });
      await Promise.all([1, 2, 3, 4].map((x) => closing.run((y: number) => y, [x])));
      const first = closing.close();
      await closing.close(); // a second call waits as long as the first
      assert.equal(workers.length, 2);
      assert.ok(workers.every((worker) => worker.ended), "close resolved before its workers ended");
      await first;
    } finally {
      globalThis.Worker = RealWorker;
    }
  });

  await t.step("close finishes queued work, then refuses new work", async () => {
    const pool = new Pool({ size: 1 });
    const results = [1, 2, 3].map((x) => pool.run((y: number) => y * 2, [x]));
    await pool.close();
    assert.deepEqual(await Promise.all(results), [2, 4, 6]);
    assert.equal(pool.stats.workers, 0);
    await assert.rejects(pool.run((x: number) => x, [1]), PoolClosed);
  });

  await t.step("terminate rejects pending tasks with PoolClosed and always settles", async () => {
    const pool = new Pool({ size: 1 });
    const pending = [0, 1, 2].map(() => pool.run(() => new Promise(() => {})));
    await pool.terminate();
    for (const result of await Promise.allSettled(pending)) {
      assert.equal(result.status, "rejected");
      assert.ok((result as PromiseRejectedResult).reason instanceof PoolClosed);
    }
  });

  await t.step("a module that fails to load rejects the tasks waiting for it", async () => {
    await using pool = new Pool({
      size: 1,
      module: new URL("./testdata/broken_tasks.ts", import.meta.url),
    });
    const results = await Promise.allSettled([pool.run("any"), pool.run("other")]);
    for (const result of results) {
      assert.equal(result.status, "rejected");
      const error = (result as PromiseRejectedResult).reason;
      assert.ok(error instanceof WorkerCrashed);
      assert.match(error.message, /broken on purpose/);
    }
  });

  await t.step("a module that fails to load is not started again until a task asks", async () => {
    await using pool = new Pool({
      size: 2,
      minSize: 1,
      module: new URL("./testdata/broken_tasks.ts", import.meta.url),
    });
    await assert.rejects(pool.run("any"), WorkerCrashed);
    // The other worker started with the task fails too; then warm workers (minSize, and every
    // worker after a first task) would only fail again: none starts.
    for (let i = 0; pool.stats.workers > 0; i++) {
      assert.ok(i < 200, "the failing workers were never all gone");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (let i = 0; i < 20; i++) {
      assert.equal(pool.stats.workers, 0);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await assert.rejects(pool.run("any"), WorkerCrashed); // a new task tries again
  });

  await t.step("bad options", () => {
    for (const size of [-1, 1.5, 5000]) assert.throws(() => new Pool({ size }), RangeError);
    assert.throws(() => new Pool({ maxQueue: -1 }), RangeError);
    assert.throws(() => new Pool({ timeout: -5 }), RangeError);
    assert.throws(() => new Pool({ size: 0 }).resize(-1), RangeError);
  });
});

Deno.test("Pool resizes under load, 0 included", async (t) => {
  await t.step("nothing is lost while resizing 2 -> 0 -> 1 -> 2", async () => {
    await using pool = new Pool({ size: 2 });
    const task = async (i: number): Promise<number> => {
      await new Promise((resolve) => setTimeout(resolve, i % 3));
      return i;
    };
    const results: Promise<number>[] = [];
    for (const size of [0, 1, 2]) {
      for (let i = 0; i < 200; i++) results.push(pool.run(task, [results.length]));
      pool.resize(size);
      assert.equal(pool.size, size);
    }
    const values = await Promise.all(results);
    assert.deepEqual(values, values.map((_, i) => i));
  });

  await t.step("inline mode runs closures and module tasks on this thread", async () => {
    await using pool = new Pool<Tasks>({ size: 0, module: TASKS });
    const seen: number[] = [];
    await pool.run((x: number) => seen.push(x), [1] as never);
    assert.deepEqual(seen, [1]);
    assert.equal(await pool.run("add", [1, 2]), 3);
    assert.equal(pool.stats.workers, 0);
  });
});

Deno.test("Pool.map is lazy, bounded and cancellable", async (t) => {
  await using pool = new Pool({ size: 2 });

  await t.step("ordered results, chunked", async () => {
    const squares = pool.map((x: number) => x * x, [1, 2, 3, 4, 5], { chunkSize: 2 });
    assert.deepEqual(await Array.fromAsync(squares), [1, 4, 9, 16, 25]);
  });

  await t.step("unordered results come as they finish", async () => {
    const delays = [40, 1, 20];
    const results = await Array.fromAsync(pool.map(
      async (ms: number) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return ms;
      },
      delays,
      { ordered: false, concurrency: 3 },
    ));
    assert.deepEqual([...results].sort((a, b) => a - b), [1, 20, 40]);
    assert.notEqual(results[0], 40);
  });

  await t.step("nothing runs before the first read; read-ahead is bounded", async () => {
    let pulled = 0;
    function* source(): Generator<number> {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield i;
      }
    }
    const results = pool.map((x: number) => x + 1, source(), { concurrency: 3 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(pulled, 0);
    assert.deepEqual(await results.next(), { value: 1, done: false });
    assert.ok(pulled <= 4, `pulled ${pulled} items for one result`);
    await results.return!(undefined);
  });

  await t.step("breaking out closes the source (pipelines stop upstream)", async () => {
    let closed = false;
    async function* source(): AsyncGenerator<number> {
      try {
        for (let i = 0;; i++) yield i;
      } finally {
        closed = true;
      }
    }
    const doubled = pool.map((x: number) => 2 * x, source());
    const tripled = pool.map((x: number) => 3 * x, doubled);
    for await (const value of tripled) {
      if (value >= 30) break;
    }
    assert.ok(closed);
  });

  await t.step("a failing item ends the iteration with its error", async () => {
    const results = pool.map((x: number) => {
      if (x === 3) throw new RangeError("bad item 3");
      return x;
    }, [1, 2, 3, 4]);
    await assert.rejects(Array.fromAsync(results), /bad item 3/);
  });

  await t.step("abort ends the iteration", async () => {
    const controller = new AbortController();
    const results = pool.map((x: number) => x, [1, 2, 3], { signal: controller.signal });
    assert.deepEqual(await results.next(), { value: 1, done: false });
    controller.abort(new Error("enough"));
    await assert.rejects(Array.fromAsync(results), /enough/);
  });

  await t.step("bad options", () => {
    assert.throws(() => pool.map((x: number) => x, [], { chunkSize: 0 }), RangeError);
    assert.throws(() => pool.map((x: number) => x, [], { concurrency: 1.5 }), RangeError);
    const notIterable = [[5, "5"], [null, "null"], [undefined, "undefined"], [
      { length: 2 },
      "an object",
    ]];
    for (const [items, shown] of notIterable) {
      assert.throws(() => pool.map((x: number) => x, items as never), {
        name: "TypeError",
        message:
          `Cannot map as items must be an iterable or an async iterable: current value is ${shown}`,
      });
    }
  });

  await t.step("a string is mapped by its characters, as for...of reads it", async () => {
    assert.deepEqual(
      await Array.fromAsync(pool.map((x: string) => x.toUpperCase(), "ab" as never)),
      ["A", "B"],
    );
  });
});

Deno.test("parallelise (mt.base)", async (t) => {
  await t.step("results in job order, with extra args and progress", async () => {
    const progress: string[] = [];
    const results = await parallelise((id: number, scale: number) => id * scale, 6, {
      args: [10],
      concurrency: 2,
      onProgress: (done, total) => progress.push(`${done}/${total}`),
    });
    assert.deepEqual(results, [0, 10, 20, 30, 40, 50]);
    assert.deepEqual(progress, ["1/6", "2/6", "3/6", "4/6", "5/6", "6/6"]);
  });

  await t.step(
    "throw: the failure rejects with BackgroundError after the rest settle",
    async () => {
      await using pool = new Pool({ size: 2 });
      const counter = new SharedArrayBuffer(4);
      const error = await parallelise(
        (id: number, c: SharedArrayBuffer) => {
          Atomics.add(new Int32Array(c), 0, 1);
          if (id === 1) throw new TypeError("job one failed");
          return id;
        },
        5,
        { args: [counter], pool },
      ).catch((e) => e);
      assert.ok(error instanceof BackgroundError);
      assert.equal(error.jobId, 1);
      assert.ok(error.cause instanceof TypeError);
      assert.match(error.message, /job one failed/);
      assert.equal(new Int32Array(counter)[0], 5);
    },
  );

  await t.step("warn: failures are reported and their slot is undefined", async () => {
    const warnings: unknown[][] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args);
    try {
      const results = await parallelise(
        (id: number) => {
          if (id % 2 === 1) throw new Error(`odd ${id}`);
          return id;
        },
        4,
        { onError: "warn", concurrency: 2 },
      );
      assert.deepEqual(results, [0, undefined, 2, undefined]);
      assert.equal(warnings.length, 2);
    } finally {
      console.warn = warn;
    }
  });

  await t.step("bad counts", async () => {
    await assert.rejects(parallelise((id: number) => id, -1), RangeError);
    await assert.rejects(parallelise((id: number) => id, 2, { concurrency: 0 }), RangeError);
    assert.deepEqual(await parallelise((id: number) => id, 0, { concurrency: 1 }), []);
  });
});

Deno.test("LocalExecutor", async (t) => {
  await t.step("runs closures with a concurrency limit", async () => {
    const executor = new LocalExecutor({ concurrency: 2 });
    let running = 0;
    let most = 0;
    const task = async (): Promise<void> => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
    };
    await Promise.all(Array.from({ length: 6 }, () => executor.submit(task)));
    assert.equal(most, 2);
  });

  await t.step("errors reject; names and bad options are refused", async () => {
    const executor = new LocalExecutor();
    await assert.rejects(
      executor.submit(() => {
        throw new Error("local");
      }),
      /local/,
    );
    await assert.rejects(executor.submit("named"), TypeError);
    assert.throws(() => new LocalExecutor({ concurrency: 0 }), RangeError);
  });
});

/** Runs a testdata script in a child process; it must exit by itself within `ms`. */
async function runScript(
  name: string,
  args: string[],
  ms = 20_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(`./testdata/${name}`, import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  try {
    const { code, stdout, stderr } = await child.output();
    const decoder = new TextDecoder();
    return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("Pool maxQueue counts tasks handed ahead to busy workers", async (t) => {
  const slow = (ms: number): Promise<number> =>
    new Promise((resolve) => setTimeout(() => resolve(ms), ms));

  await t.step("maxQueue 0 accepts a task only when a worker is free", async () => {
    await using pool = new Pool({ size: 1, maxQueue: 0 });
    const first = pool.run(slow, [50]);
    const results = await Promise.allSettled([1, 2, 3].map(() => pool.run(slow, [1])));
    for (const result of results) {
      assert.equal(result.status, "rejected");
      assert.ok((result as PromiseRejectedResult).reason instanceof QueueFull);
    }
    assert.equal(pool.stats.queued, 0);
    assert.equal(await first, 50);
    assert.equal(await pool.run(slow, [1]), 1); // free again: accepted
  });

  await t.step(
    "size 1, maxQueue 2: of five slow tasks one runs, two wait, two reject",
    async () => {
      await using pool = new Pool({ size: 1, maxQueue: 2 });
      const tasks = [0, 1, 2, 3, 4].map(() => pool.run(slow, [30]));
      assert.ok(pool.stats.queued <= 2, `queued ${pool.stats.queued}`);
      const results = await Promise.allSettled(tasks);
      assert.deepEqual(results.map((r) => r.status), [
        "fulfilled",
        "fulfilled",
        "fulfilled",
        "rejected",
        "rejected",
      ]);
      for (const result of results.slice(3)) {
        assert.ok((result as PromiseRejectedResult).reason instanceof QueueFull);
      }
    },
  );

  await t.step("with two workers, stats.queued never exceeds maxQueue", async () => {
    await using pool = new Pool({ size: 2, maxQueue: 3 });
    const tasks: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      tasks.push(pool.run(slow, [5]).catch((error) => error));
      assert.ok(pool.stats.queued <= 3, `queued ${pool.stats.queued}`);
    }
    const outcomes = await Promise.all(tasks);
    assert.equal(outcomes.filter((o) => o === 5).length, 5);
    assert.equal(outcomes.filter((o) => o instanceof QueueFull).length, 15);
  });
});

Deno.test("Pool payload limits reject with RangeError, never hang", async (t) => {
  await using pool = new Pool({ size: 1 });
  const big = 65 * 1024 * 1024;

  await t.step("an argument over the transport's limit", async () => {
    await assert.rejects(
      pool.run((b: Uint8Array) => b.length, [new Uint8Array(big)]),
      (error: unknown) => error instanceof RangeError && /64 MiB/.test(error.message),
    );
    assert.equal(pool.stats.running, 0);
    assert.equal(await pool.run((x: number) => x + 1, [1]), 2);
  });

  await t.step("a result over the transport's limit", async () => {
    await assert.rejects(
      pool.run((n: number) => new Uint8Array(n), [big]),
      (error: unknown) => error instanceof RangeError && /64 MiB/.test(error.message),
    );
    assert.equal(pool.stats.running, 0);
    assert.equal(await pool.run((x: number) => x + 1, [2]), 3);
  });

  await t.step("a large buffer can travel by transfer", async () => {
    const bytes = new Uint8Array(big);
    assert.equal(
      await pool.run((b: Uint8Array) => b.length, [bytes], { transfer: [bytes.buffer] }),
      big,
    );
  });

  await t.step("transfer is validated before anything is sent", async () => {
    const triple = (x: number): number => x * 3;
    await assert.rejects(pool.run(triple, [1], { transfer: 42 as never }), TypeError);
    await assert.rejects(pool.run(triple, [1], { transfer: [{}] as never }), TypeError);
    const buffer = new ArrayBuffer(8);
    await assert.rejects(pool.run(triple, [1], { transfer: [buffer, buffer] }), TypeError);
    assert.equal(buffer.byteLength, 8); // nothing was sent, nothing detached
    assert.equal(await pool.run(triple, [2]), 6);
  });

  await t.step("close settles afterwards", async () => {
    await pool.close();
    assert.equal(pool.stats.running, 0);
  });
});

Deno.test("Pool resize keeps queued tasks as they are", async (t) => {
  await t.step("0 -> 2: a cancelled task never runs and every task counts once", async () => {
    await using pool = new Pool({ size: 0 });
    const log = new EvictingQueue<number>();
    const record = (q: EvictingQueue<number>, i: number): number => {
      q.put(i);
      return i;
    };
    const first = pool.run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return 0;
    });
    const controller = new AbortController();
    const queued = [1, 2, 3].map((i) =>
      pool.run(record, [log, i], i === 2 ? { signal: controller.signal } : {})
    );
    // Handlers first: the aborted task may reject before `first` settles (if it was still queued).
    const settled = Promise.allSettled(queued);
    pool.resize(2); // a queued shareable argument must not make this throw
    controller.abort(new Error("cancelled"));
    assert.equal(await first, 0);
    const results = await settled;
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
    assert.deepEqual(log.flush().sort(), [1, 3]);
    const { completed, failed } = pool.stats;
    assert.equal(completed + failed, 4);
  });
});

Deno.test("Pool ends workers blocked in Atomics.wait", async (t) => {
  await t.step("terminate() while a task blocks on a shared queue: the process exits", async () => {
    const { code, stdout, stderr } = await runScript("pool_exits.ts", ["terminate-queue"]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /task: PoolClosed\ndone/);
  });

  await t.step(
    "abort while a task waits on a typed-array argument: the process exits",
    async () => {
      const { code, stdout, stderr } = await runScript("pool_exits.ts", ["abort-typed-array"]);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /task: aborted\ndone/);
    },
  );
});

Deno.test("Pool errors outside any task go to onError", async (t) => {
  const errors: unknown[] = [];
  let reported = Promise.withResolvers<void>();
  await using pool = new Pool({
    size: 1,
    onError: (error) => {
      errors.push(error);
      reported.resolve();
    },
  });

  await t.step("a timer left behind by a finished task never rejects the next one", async () => {
    await pool.run(() => {
      setTimeout(() => {
        throw new Error("stray timer");
      }, 20);
      return 1;
    });
    const innocent = await pool.run(() => new Promise((resolve) => setTimeout(resolve, 80, 2)));
    assert.equal(innocent, 2);
    await reported.promise;
    assert.match(String((errors[0] as Error).message), /stray timer/);
  });

  await t.step(
    "a rejection left behind by a finished task never rejects the next one",
    async () => {
      reported = Promise.withResolvers<void>();
      await pool.run(() => {
        setTimeout(() => Promise.reject(new RangeError("stray rejection")), 10);
        return 1;
      });
      const innocent = await pool.run(() => new Promise((resolve) => setTimeout(resolve, 60, 3)));
      assert.equal(innocent, 3);
      await reported.promise;
      assert.ok(errors[1] instanceof RangeError);
      assert.equal(pool.stats.failed, 0);
    },
  );

  // No task runs after the one that left the error behind: an idle worker still turns its event
  // loop, or the error would wait for a task that yields (and with none, forever).
  await t.step("a timer left behind reaches onError while the worker idles", async () => {
    reported = Promise.withResolvers<void>();
    await pool.run(() => {
      setTimeout(() => {
        throw new Error("idle timer");
      }, 20);
      return 1;
    });
    await within(reported.promise, 5000, "the idle worker's stray timer");
    assert.match(String((errors[2] as Error).message), /idle timer/);
  });

  await t.step("a rejection left unhandled reaches onError while the worker idles", async () => {
    reported = Promise.withResolvers<void>();
    await pool.run(() => {
      Promise.reject(new TypeError("idle rejection"));
      return 1;
    });
    await within(reported.promise, 5000, "the idle worker's unhandled rejection");
    assert.ok(errors[3] instanceof TypeError);
    assert.equal((errors[3] as Error).message, "idle rejection");
    assert.equal(pool.stats.failed, 0);
  });
});

Deno.test("Pool workers run what a finished task left behind while idle", async (t) => {
  for (const [label, options] of [["", {}], [" with a heap limit", { maxMemoryMb: 64 }]] as const) {
    await t.step(`a timeout and an interval fire after the task returned${label}`, async () => {
      await using pool = new Pool({ size: 1, ...options });
      const queue = new EvictingQueue<string>();
      await pool.run((q: EvictingQueue<string>) => {
        setTimeout(() => q.put("timeout"), 20);
        let ticks = 0;
        const interval = setInterval(() => {
          q.put(`tick ${++ticks}`);
          if (ticks === 3) clearInterval(interval);
        }, 5);
        return "scheduled";
      }, [queue]);
      const seen: string[] = [];
      for (let i = 0; i < 4; i++) {
        seen.push(await within(queue.getAsync(), 5000, "the idle worker's timers"));
      }
      assert.deepEqual(seen.toSorted(), ["tick 1", "tick 2", "tick 3", "timeout"]);
      // The worker still takes tasks after its timers ran out.
      assert.equal(await pool.run((x: number) => x + 1, [1]), 2);
    });

    await t.step(`unawaited async work finishes after the task returned${label}`, async () => {
      await using pool = new Pool({ size: 1, ...options });
      const queue = new EvictingQueue<number>();
      await pool.run((q: EvictingQueue<number>) => {
        // No timer: an operation of the runtime's own, settled on the worker's event loop.
        crypto.subtle.digest("SHA-256", new Uint8Array(64)).then((hash) => q.put(hash.byteLength));
        return "started";
      }, [queue]);
      assert.equal(await within(queue.getAsync(), 5000, "the idle worker's digest"), 32);
    });
  }
});

Deno.test("Pool thrown values arrive intact", async (t) => {
  await using pool = new Pool({ size: 1 });

  await t.step("a thrown string is that string", async () => {
    const reason = await pool.run(() => {
      throw "plain string";
    }).catch((error) => error);
    assert.equal(reason, "plain string");
  });

  await t.step("a thrown plain object keeps its fields", async () => {
    const reason = await pool.run(() => {
      throw { code: 42, detail: "x", when: new Date(7) };
    }).catch((error) => error);
    assert.deepEqual(reason, { code: 42, detail: "x", when: new Date(7) });
  });

  await t.step("a thrown object with an uncloneable field keeps the rest", async () => {
    const reason = await pool.run(() => {
      throw { code: 7, retry: () => 1 };
    }).catch((error) => error);
    assert.equal(reason.code, 7);
  });

  await t.step("an Error with an uncloneable cause keeps its class and message", async () => {
    const reason = await pool.run(() => {
      throw new RangeError("bad", { cause: () => 1 });
    }).catch((error) => error);
    assert.ok(reason instanceof RangeError);
    assert.equal(reason.message, "bad");
  });
});

Deno.test("Pool.map ends on abort while its source stalls", async () => {
  await using pool = new Pool({ size: 1 });
  const never = Promise.withResolvers<number>();
  async function* stalled(): AsyncGenerator<number> {
    yield 1;
    yield await never.promise;
  }
  const controller = new AbortController();
  const results = pool.map((x: number) => x, stalled(), { signal: controller.signal });
  assert.deepEqual(await results.next(), { value: 1, done: false });
  const next = results.next();
  setTimeout(() => controller.abort(new Error("stop waiting")), 20);
  await assert.rejects(next, /stop waiting/);
  never.resolve(2); // let the generator finish
});

Deno.test("parallelise on a given pool runs as many jobs as the pool has workers", async () => {
  await using pool = new Pool({ size: 2 });
  const counters = new Int32Array(new SharedArrayBuffer(8)); // [running, most]
  await parallelise(
    async (_id: number, c: Int32Array) => {
      const running = Atomics.add(c, 0, 1) + 1;
      for (let most = Atomics.load(c, 1); running > most; most = Atomics.load(c, 1)) {
        if (Atomics.compareExchange(c, 1, most, running) === most) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 30));
      Atomics.sub(c, 0, 1);
    },
    6,
    { args: [counters], pool },
  );
  assert.equal(counters[1], 2);
});

Deno.test("Pool.map by export name is typed from the module, and reports progress", async () => {
  await using pool = new Pool<Tasks>({ size: 1, module: TASKS });
  const progress: string[] = [];
  const doubled: AsyncIterableIterator<number> = pool.map("double", [1, 2, 3], {
    chunkSize: 2,
    onProgress: (done, total) => progress.push(`${done}/${total}`),
  });
  const values: number[] = await Array.fromAsync(doubled);
  assert.deepEqual(values, [2, 4, 6]);
  assert.deepEqual(progress, ["2/3", "3/3"]);
  const unknownTotal: (number | undefined)[] = [];
  async function* items(): AsyncGenerator<number> {
    yield* [1, 2];
  }
  await Array.fromAsync(
    pool.map("double", items(), { onProgress: (_d, t) => unknownTotal.push(t) }),
  );
  assert.deepEqual(unknownTotal, [undefined, undefined]);
});

/** Waits until `flag[0]` is not 0 (retiring a worker also wakes waits on its arguments). */
async function untilSet(flag: Int32Array, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (Atomics.load(flag, 0) === 0) {
    const left = deadline - performance.now();
    if (left <= 0) throw new Error("The flag was not set in time");
    await waitAsync(flag, 0, 0, left); // theta's: a raw waitAsync keeps no event loop alive
  }
}

Deno.test("taskContext: id, progress and a signal that cooperative tasks see", async (t) => {
  await t.step("progress reaches onProgress in order, before the result", async () => {
    await using pool = new Pool({ size: 1 });
    const seen: unknown[] = [];
    const result = await pool.run(
      (n: number) => {
        // deno-lint-ignore no-explicit-any
        const { progress } = (globalThis as any).theta.taskContext();
        for (let i = 1; i <= n; i++) progress({ step: i });
        return "done";
      },
      [50],
      { onProgress: (value) => seen.push(value) },
    );
    assert.equal(result, "done");
    assert.deepEqual(seen, Array.from({ length: 50 }, (_, i) => ({ step: i + 1 })));
  });

  await t.step("module tasks import taskContext; each task has its own id", async () => {
    await using pool = new Pool<Tasks>({ size: 2, module: TASKS });
    const seen: number[][] = [[], []];
    const ids = await Promise.all([0, 1].map((k) =>
      pool.run("countWithProgress", [30, 10], {
        onProgress: (value) => seen[k]!.push(value as number),
      })
    ));
    assert.notEqual(ids[0], ids[1]);
    assert.deepEqual(seen, [[10, 20, 30], [10, 20, 30]]);
  });

  await t.step("a timed-out busy loop sees signal.aborted and stops", async () => {
    await using pool = new Pool({ size: 1 });
    const flag = new Int32Array(new SharedArrayBuffer(4));
    await assert.rejects(
      pool.run(
        (f: Int32Array) => {
          // deno-lint-ignore no-explicit-any
          const { signal } = (globalThis as any).theta.taskContext();
          while (!signal.aborted) { /* CPU-bound, never yields */ }
          Atomics.store(
            f,
            0,
            signal.reason.name === "TimeoutError" ? 1 : signal.reason.name === "AbortError" ? 3 : 2,
          );
          Atomics.notify(f, 0);
        },
        [flag],
        { timeout: 50 },
      ),
      { name: "TimeoutError" },
    );
    await untilSet(flag);
    assert.equal(flag[0], 1);
  });

  await t.step("an aborted task's signal carries the abort kind", async () => {
    await using pool = new Pool({ size: 1 });
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const controller = new AbortController();
    const started = new Event();
    const task = pool.run(
      (f: Int32Array, s: Event) => {
        // deno-lint-ignore no-explicit-any
        const { signal } = (globalThis as any).theta.taskContext();
        s.set();
        while (!signal.aborted) { /* busy */ }
        Atomics.store(f, 0, signal.reason.name === "AbortError" ? 1 : 2);
        Atomics.notify(f, 0);
      },
      [flag, started],
      { signal: controller.signal },
    );
    await started.waitAsync();
    controller.abort(new Error("stop"));
    await assert.rejects(task, /stop/);
    await untilSet(flag);
    assert.equal(flag[0], 1);
  });

  await t.step(
    "a context kept past its task refuses progress; later tasks get their own",
    async () => {
      await using pool = new Pool({ size: 1 });
      const keep = (): number => {
        // deno-lint-ignore no-explicit-any
        const scope = globalThis as any;
        scope.kept = scope.theta.taskContext();
        return scope.kept.id;
      };
      const quiet = (): number => 0;
      const useKept = (): [number, number, string] => {
        // deno-lint-ignore no-explicit-any
        const scope = globalThis as any;
        let error = "none";
        try {
          scope.kept.progress("late");
        } catch (e) {
          error = `${(e as Error).name}: ${(e as Error).message}`;
        }
        return [scope.kept.id, scope.theta.taskContext().id, error];
      };
      const seen: unknown[] = [];
      const first = await pool.run(keep);
      await pool.run(quiet);
      const [keptId, ownId, error] = await pool.run(useKept, [], {
        onProgress: (value) => seen.push(value),
      });
      assert.equal(keptId, first);
      assert.notEqual(ownId, first);
      assert.equal(error, "TypeError: Cannot report progress as the task has finished");
      assert.deepEqual(seen, []);
    },
  );

  await t.step("inline runs have a context too", async () => {
    await using pool = new Pool<Tasks>({ size: 0, module: TASKS });
    const seen: unknown[] = [];
    const id = await pool.run("countWithProgress", [4, 2], { onProgress: (v) => seen.push(v) });
    assert.equal(typeof id, "number");
    assert.deepEqual(seen, [2, 4]);
  });

  await t.step("outside a task it throws", () => {
    assert.throws(() => taskContext(), TypeError);
  });
});

Deno.test("on a runtime that is not Deno, pools and threads fail fast, saying so", async () => {
  const { code, stdout, stderr } = await runScript("not_deno.ts", []);
  assert.equal(code, 0, stderr);
  const lines = stdout.trim().split("\n");
  assert.match(
    lines[0]!,
    /^TypeError: Cannot start a pool of 2 workers as theta's workers run on Deno only/,
  );
  assert.match(lines[1]!, /^TypeError: Cannot start the thread .* Deno only/);
  assert.match(lines[2]!, /^warning: theta: this runtime is not Deno/);
  assert.equal(lines[3], "inline size 0: 2");
});

Deno.test("Pool usability: stats, warm workers, recycling, setup, scope errors", async (t) => {
  await t.step("stats: run and wait time summaries, utilization", async () => {
    await using pool = new Pool({ size: 1 });
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    await Promise.all([20, 20].map((ms) => pool.run(sleep, [ms])));
    const { runTime, waitTime, utilization } = pool.stats;
    assert.ok(runTime.p50 >= 15 && runTime.max >= runTime.p50, JSON.stringify(runTime));
    assert.ok(runTime.mean >= 15);
    assert.ok(waitTime.max >= 15, JSON.stringify(waitTime)); // the second waited for the first
    assert.ok(utilization > 0 && utilization <= 1, String(utilization));
  });

  await t.step("stats: a queued task's run time starts where the one before it ended", async () => {
    // A worker times a request that was already waiting from the end of the task before it (one
    // clock read a task): neither that task's run nor an idle gap may count as this one's.
    await using pool = new Pool({ size: 1 });
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    await Promise.all([100, 100, 100, 100].map((ms) => pool.run(sleep, [ms])));
    let { runTime, waitTime } = pool.stats;
    assert.ok(runTime.p50 >= 90 && runTime.max < 190, JSON.stringify(runTime));
    assert.ok(waitTime.max >= 250, JSON.stringify(waitTime)); // the last waited for three
    // After an idle gap, the next task's clock starts when it does.
    await sleep(150);
    await pool.run(sleep, [10]);
    ({ runTime } = pool.stats);
    assert.ok(runTime.max < 190, JSON.stringify(runTime));
    assert.ok(runTime.mean < 100, JSON.stringify(runTime)); // (4 x ~100 + ~10) / 5
  });

  await t.step(
    "stats: with maxMemoryMb, the macrotask turn between tasks is not run time",
    async () => {
      // Such workers start each task in a macrotask of its own (5-6 us a turn here, against under
      // 1 us for the tiny task itself): a queued task's clock starts after that turn.
      await using pool = new Pool({ size: 1, maxMemoryMb: 64 });
      await Promise.all(Array.from({ length: 400 }, (_, i) => pool.run((x: number) => x + 1, [i])));
      const { runTime } = pool.stats;
      assert.ok(runTime.p50 < 0.004, JSON.stringify(runTime));
    },
  );

  await t.step(
    "the first task starts every worker, unless idleTimeout asks for elasticity",
    async () => {
      await using pool = new Pool({ size: 3 });
      assert.equal(pool.stats.workers, 0); // a pool that is never used starts no thread
      const first = pool.run((y: number) => y, [1]);
      assert.equal(pool.stats.workers, 3); // warm before a burst needs them
      assert.equal(await first, 1);
      await using elastic = new Pool({ size: 3, idleTimeout: 1000 });
      await elastic.run((y: number) => y, [1]);
      assert.equal(elastic.stats.workers, 1);
    },
  );

  await t.step("minSize starts warm workers; idleTimeout never shrinks below it", async () => {
    await using pool = new Pool({ size: 3, minSize: 2, idleTimeout: 10 });
    assert.equal(pool.stats.workers, 2);
    const tasks = [1, 2, 3].map((x) => pool.run((y: number) => y, [x]));
    assert.equal(pool.stats.workers, 3); // the third task started a third worker
    await Promise.all(tasks);
    while (pool.stats.workers > 2) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(pool.stats.workers, 2);
  });

  await t.step("maxTasksPerWorker recycles workers", async () => {
    await using pool = new Pool({ size: 1, maxTasksPerWorker: 2 });
    const mark = () => {
      // deno-lint-ignore no-explicit-any
      const scope = globalThis as any;
      scope.count = (scope.count ?? 0) + 1;
      return scope.count;
    };
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) counts.push(await pool.run(mark));
    assert.deepEqual(counts, [1, 2, 1, 2, 1]);
  });

  await t.step("a module's setup export runs once per worker, before its first task", async () => {
    await using pool = new Pool<Tasks>({ size: 1, module: TASKS });
    assert.deepEqual(await Promise.all([pool.run("setupCount"), pool.run("setupCount")]), [1, 1]);
  });

  await t.step(
    "a function task using its enclosing scope gets an explanatory ReferenceError",
    async () => {
      await using pool = new Pool({ size: 1 });
      const toHex = (n: number): string => n.toString(16);
      const error = await pool.run((n: number) => toHex(n), [255]).catch((e) => e);
      assert.ok(error instanceof ReferenceError);
      assert.match(
        error.message,
        /toHex is not defined in the worker: a function task runs from its source text/,
      );
      assert.match((error.cause as Error).message, /toHex is not defined/);
    },
  );

  await t.step("bad options", () => {
    assert.throws(() => new Pool({ size: 2, minSize: 3 }), RangeError);
    assert.throws(() => new Pool({ size: 2, minSize: -1 }), RangeError);
    assert.throws(() => new Pool({ size: 2, maxTasksPerWorker: 0 }), RangeError);
    assert.throws(() => new Pool({ size: 2, maxTasksPerWorker: 1.5 }), RangeError);
  });
});

/** Lines `ps` prints for `args` (empty when it matches nothing). */
async function ps(args: string[]): Promise<string[]> {
  const { stdout } = await new Deno.Command("ps", { args, stdout: "piped", stderr: "null" })
    .output();
  return new TextDecoder().decode(stdout).split("\n").filter((line) => line.trim() !== "");
}

/** Whether process `pid` still exists (a zombie counts: it was not reaped). */
async function alive(pid: number): Promise<boolean> {
  return (await ps(["-o", "pid=", "-p", String(pid)])).length > 0;
}

/** The pids of this process's children running `_process_runner.ts`. */
async function runnerPids(): Promise<number[]> {
  return (await ps(["-o", "pid=,args=", "--ppid", String(Deno.pid)]))
    .filter((line) => line.includes("_process_runner.ts"))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

Deno.test("Pool isolation: process", async (t) => {
  await t.step("function and module tasks, map, errors with their class, stats", async () => {
    await using pool = new Pool<Tasks>({ size: 2, isolation: "process", module: TASKS });
    assert.equal(await pool.run((x: number) => x + 1, [41]), 42);
    assert.equal(await pool.run("add", [2, 3]), 5);
    assert.deepEqual(await Array.fromAsync(pool.map("double", [1, 2, 3])), [2, 4, 6]);
    const error = await pool.run("parse", ["x"]).catch((e) => e);
    assert.equal(error.name, "ParseFailure");
    assert.equal(error.cause, "x");
    assert.equal(pool.stats.completed, 5); // two runs and three map items
    const seen: unknown[] = [];
    await pool.run("countWithProgress", [20, 10], { onProgress: (v) => seen.push(v) });
    assert.deepEqual(seen, [10, 20]);
  });

  await t.step("a busy task is really gone after its timeout; the pool goes on", async () => {
    await using pool = new Pool({ size: 1, isolation: "process" });
    await pool.run((x: number) => x, [0]); // the process is up
    const [pid] = await runnerPids();
    assert.ok(pid !== undefined);
    await assert.rejects(
      pool.run(
        () => {
          while (true) { /* runaway */ }
        },
        [],
        { timeout: 100 },
      ),
      { name: "TimeoutError" },
    );
    const deadline = performance.now() + 1000;
    while (await alive(pid!) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(await alive(pid!), false, "the process should be gone (and reaped) within 1 s");
    assert.equal(await pool.run((x: number) => x * 2, [21]), 42);
  });

  await t.step("out of memory kills only the task's process", async () => {
    await using pool = new Pool({ size: 1, isolation: "process", maxMemoryMb: 32 });
    const error = await pool.run(() => {
      const hoard: number[][] = [];
      while (true) hoard.push(new Array(100_000).fill(1));
    }).catch((e) => e);
    assert.ok(error instanceof WorkerCrashed, String(error));
    assert.equal(await pool.run((x: number) => x + 1, [1]), 2);
  });

  await t.step("permissions narrow the child; a denial is the task's error", async () => {
    await using pool = new Pool({ size: 1, isolation: "process" });
    const denied = await pool.run(() => Deno.env.get("HOME")).catch((e) => e);
    assert.equal(denied.name, "NotCapable");
    await using allowed = new Pool({
      size: 1,
      isolation: "process",
      permissions: { env: ["HOME"] },
    });
    assert.equal(await allowed.run(() => Deno.env.get("HOME")), Deno.env.get("HOME"));
  });

  await t.step("shared objects and transfers are refused, naming the argument", async () => {
    await using pool = new Pool({ size: 1, isolation: "process" });
    await assert.rejects(
      pool.run((q: unknown) => q, [new EvictingQueue()]),
      (error: unknown) =>
        error instanceof TypeError && /args\[0\].*process worker/.test(error.message),
    );
    const buffer = new ArrayBuffer(8);
    await assert.rejects(
      pool.run((b: ArrayBuffer) => b, [buffer], { transfer: [buffer] }),
      TypeError,
    );
  });

  await t.step("terminate and close leave no process behind", async () => {
    const pool = new Pool({ size: 2, isolation: "process" });
    const running = pool.run(() => new Promise(() => {}));
    await pool.run((x: number) => x, [1]);
    assert.equal((await runnerPids()).length, 2);
    await pool.terminate();
    await assert.rejects(running, PoolClosed);
    const deadline = performance.now() + 2000;
    while ((await runnerPids()).length > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(await runnerPids(), []);
  });

  await t.step("bad options", () => {
    assert.throws(() => new Pool({ isolation: "fiber" as never }), TypeError);
    assert.throws(() => new Pool({ isolation: "process", maxMemoryMb: 1.5 }), RangeError);
    assert.throws(() => new Pool({ maxMemoryMb: 8 }), RangeError);
    assert.throws(
      () => new Pool({ isolation: "process", permissions: { disk: true } as never }),
      TypeError,
    );
  });
});

Deno.test("Pool: an error too large to send still settles its task", async () => {
  await using pool = new Pool({ size: 1 });
  const error = await pool.run(() => {
    throw new Error("x".repeat(70 * 1024 * 1024));
  }).catch((e) => e);
  assert.ok(error instanceof RangeError, String(error).slice(0, 100));
  assert.match(error.message, /64 MiB/);
  assert.equal(await pool.run((x: number) => x, [1]), 1);
});

Deno.test("Pool maxMemoryMb in thread isolation: out of memory rejects that task only", async (t) => {
  await using pool = new Pool({ size: 1, maxMemoryMb: 32 });

  await t.step("a synchronous hoard: WorkerCrashed, and the process lives", async () => {
    // Three rounds: from the second on, the hoard is not its worker's first task.
    for (let round = 0; round < 3; round++) {
      const error = await pool.run(
        () => {
          const hoard: number[][] = [];
          while (true) hoard.push(new Array(100_000).fill(1));
        },
        [],
        { timeout: 10_000 },
      ).catch((e) => e);
      assert.ok(error instanceof WorkerCrashed, String(error));
      assert.match(error.message, /out of memory.*32 MiB/);
      assert.equal(await pool.run((x: number) => x + 1, [round]), round + 1);
    }
  });

  await t.step("a hoard growing in timer callbacks: the same", async () => {
    const error = await pool.run(() =>
      new Promise(() => {
        const hoard: number[][] = [];
        const grow = (): void => {
          hoard.push(new Array(100_000).fill(1));
          setTimeout(grow, 0);
        };
        grow();
      })
    ).catch((e) => e);
    assert.ok(error instanceof WorkerCrashed, String(error));
    assert.equal(await pool.run((x: number) => x + 1, [2]), 3);
  });

  await t.step("a hoard growing after awaits: a timeout recovers the worker", async () => {
    // Deno 2.9.6 stops a node:worker_threads worker that reaches its limit inside a promise
    // continuation without reporting it (see _node_thread.ts): the task's timeout ends it.
    const error = await pool.run(
      async () => {
        const hoard: number[][] = [];
        while (true) {
          hoard.push(new Array(100_000).fill(1));
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      },
      [],
      { timeout: 2000 },
    ).catch((e) => e);
    assert.ok(
      error instanceof WorkerCrashed || error.name === "TimeoutError",
      String(error),
    );
    assert.equal(await pool.run((x: number) => x + 1, [3]), 4);
  });

  await t.step(
    "shared objects, module tasks, progress and abort work as in a Web Worker",
    async () => {
      const queue = new EvictingQueue<number>();
      await pool.run((q: EvictingQueue<number>) => q.put(7), [queue]);
      assert.equal(queue.get(), 7);
      await using modulePool = new Pool({ size: 1, maxMemoryMb: 64, module: TASKS });
      assert.equal(await modulePool.run("add", [2, 3]), 5);
      const seen: unknown[] = [];
      await pool.run(
        () => {
          // deno-lint-ignore no-explicit-any
          (globalThis as any).theta.taskContext().progress("half");
        },
        [],
        { onProgress: (value) => seen.push(value) },
      );
      assert.deepEqual(seen, ["half"]);
      await assert.rejects(
        pool.run(() => new Promise(() => {}), [], { timeout: 50 }),
        (e: DOMException) => e.name === "TimeoutError",
      );
      assert.equal(await pool.run((x: number) => x * 2, [21]), 42);
    },
  );
});

Deno.test("Pool copies arguments at the call, whether the task starts at once or waits", async () => {
  await using pool = new Pool({ size: 1 });
  const first = [1];
  const now = pool.run((a: number[]) => a[0], [first]); // a free worker: sent at once
  first[0] = 2;
  assert.equal(await now, 1);
  const gate = new Event();
  const blocker = pool.run((g: Event) => g.wait(5000), [gate]);
  const later = [1];
  const queued = pool.run((a: number[]) => a[0], [later]); // waits behind the blocker
  later[0] = 2;
  gate.set();
  assert.equal(await blocker, true);
  assert.equal(await queued, 1);
  // Arguments that cannot go reject at the call either way, naming the argument.
  await assert.rejects(pool.run((f: unknown) => f, [() => 1]), /args\[0\]/);
});

Deno.test("Pool bursts: tasks sent ahead in batches arrive whole, in any worker", async (t) => {
  await t.step("two new functions interleaved: each worker gets each source once", async () => {
    await using pool = new Pool({ size: 2 });
    const double = (x: number) => 2 * x;
    const label = (x: number) => `#${x}`;
    const runs = Array.from(
      { length: 3000 },
      (_, i) => i % 2 === 0 ? pool.run(double, [i]) : pool.run(label, [i]),
    );
    const results = await Promise.all(runs);
    results.forEach((result, i) => assert.equal(result, i % 2 === 0 ? 2 * i : `#${i}`));
  });

  await t.step("queued arguments keep their values, however many wait", async () => {
    await using pool = new Pool({ size: 1 });
    const gate = new Event();
    const blocker = pool.run((g: Event) => g.wait(5000), [gate]);
    const echo = (n: number, text: string, list: number[]) => [n, text, list];
    const runs = Array.from(
      { length: 3000 },
      (_, i) => pool.run(echo, [i, "x".repeat(i % 97), [i, -i]]),
    );
    gate.set();
    assert.equal(await blocker, true);
    (await Promise.all(runs)).forEach((result, i) =>
      assert.deepEqual(result, [i, "x".repeat(i % 97), [i, -i]])
    );
  });

  await t.step("after a burst of tiny tasks, aborting one sent ahead still works", async () => {
    await using pool = new Pool({ size: 1 });
    await Promise.all(Array.from({ length: 500 }, (_, i) => pool.run((x: number) => x, [i])));
    const gate = new Event();
    const blocker = pool.run((g: Event) => g.wait(5000), [gate]);
    const controller = new AbortController();
    const waiting = pool.run((x: number) => x, [1], { signal: controller.signal });
    const after = pool.run((x: number) => x, [2]);
    controller.abort(new Error("changed my mind"));
    await assert.rejects(waiting, /changed my mind/);
    gate.set();
    assert.equal(await blocker, true);
    assert.equal(await after, 2);
  });
});
