import assert from "node:assert/strict";
import { seededRandom } from "./testdata/random.ts";
import { EvictingQueue, QueueEmpty, QueueFull, QueueStopped, QueueTimeout } from "./queue.ts";
import { CTL_READERS } from "./_ring.ts";
import type { QueueJob } from "./testdata/queue_worker.ts";

const WORKER_URL = new URL("./testdata/queue_worker.ts", import.meta.url);

/** Starts a test worker on `job` and resolves with its first message matching `until`. */
function startWorker(
  job: QueueJob,
  until: (data: Record<string, unknown>) => boolean = () => true,
): { worker: Worker; reply: Promise<Record<string, unknown>> } {
  const worker = new Worker(WORKER_URL, { type: "module" });
  const reply = new Promise<Record<string, unknown>>((resolve, reject) => {
    worker.onmessage = (event) => {
      if (until(event.data)) resolve(event.data);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(event.message));
    };
  });
  worker.postMessage(job);
  return { worker, reply };
}

Deno.test("EvictingQueue ports the theta seed's examples", async (t) => {
  await t.step("a bounded queue keeps the newest items", () => {
    const queue = new EvictingQueue<number>(5);
    for (let i = 0; i < 8; i++) queue.put(i);
    assert.equal(queue.length, 5);
    assert.equal(queue.size, 5);
    assert.equal(queue.get(), 3);
    assert.deepEqual(queue.stats, { puts: 8, gets: 1, evicted: 3 });
  });

  await t.step("get with a timeout in a loop handles timeout and stop separately", () => {
    const queue = new EvictingQueue<string>();
    queue.put("a");
    queue.put("b");
    const events: string[] = [];
    for (;;) {
      try {
        events.push(queue.get(5));
      } catch (error) {
        if (error instanceof QueueTimeout) {
          events.push("timeout");
          queue.stop();
        } else if (error instanceof QueueStopped) {
          events.push("stopped");
          break;
        } else {
          throw error;
        }
      }
    }
    assert.deepEqual(events, ["a", "b", "timeout", "stopped"]);
  });

  await t.step("flush drains the queue as a buffer", () => {
    const queue = new EvictingQueue<number>(3);
    for (let i = 0; i < 5; i++) queue.put(i);
    assert.deepEqual(queue.flush(), [2, 3, 4]);
    assert.deepEqual(queue.flush(), []);
    assert.ok(queue.empty());
  });

  await t.step("iterTimeout ends after a quiet spell and then cleanup runs", () => {
    const queue = new EvictingQueue<number>();
    for (let i = 0; i < 3; i++) queue.put(i);
    const started = performance.now();
    const seen = [...queue.iterTimeout(30)];
    const quiet = performance.now() - started;
    assert.deepEqual(seen, [0, 1, 2]);
    assert.ok(quiet >= 25, `iteration ended after ${quiet} ms, before the timeout`);
  });

  await t.step("iteration ends once stopped and drained", () => {
    const queue = new EvictingQueue<number>();
    queue.put(1);
    queue.put(2);
    queue.stop();
    assert.deepEqual([...queue], [1, 2]);
    assert.deepEqual([...queue.iterTimeout(1000)], []);
  });
});

Deno.test("EvictingQueue semantics", async (t) => {
  await t.step("peek and peekLeft read without removing", () => {
    const queue = new EvictingQueue<string>();
    assert.throws(() => queue.peek(), QueueEmpty);
    assert.throws(() => queue.peekLeft(), QueueEmpty);
    queue.put("old");
    queue.put("new");
    assert.equal(queue.peek(), "new");
    assert.equal(queue.peekLeft(), "old");
    assert.equal(queue.length, 2);
  });

  await t.step("stop is idempotent, refuses puts and lets gets drain", () => {
    const queue = new EvictingQueue<number>();
    queue.put(1);
    assert.equal(queue.stopped(), false);
    queue.stop();
    queue.stop();
    assert.equal(queue.stopped(), true);
    assert.throws(() => queue.put(2), QueueStopped);
    assert.equal(queue.get(), 1);
    assert.throws(() => queue.get(), QueueStopped);
    assert.throws(() => queue.get(0), QueueStopped);
  });

  await t.step("get(0) polls and times out at once", () => {
    const queue = new EvictingQueue<number>();
    const started = performance.now();
    assert.throws(() => queue.get(0), QueueTimeout);
    assert.ok(performance.now() - started < 50);
  });

  await t.step("getAsync resolves, times out, and honours abort", async () => {
    const queue = new EvictingQueue<number>();
    const pending = queue.getAsync({ timeout: 5000 });
    queue.put(7);
    assert.equal(await pending, 7);
    await assert.rejects(queue.getAsync({ timeout: 10 }), QueueTimeout);
    await assert.rejects(queue.getAsync(10), QueueTimeout);
    const controller = new AbortController();
    const aborted = queue.getAsync({ signal: controller.signal });
    controller.abort(new Error("no longer needed"));
    await assert.rejects(aborted, /no longer needed/);
    await assert.rejects(queue.getAsync({ signal: AbortSignal.abort() }), { name: "AbortError" });
    // The aborted waiter is gone: the next item goes to the next getter.
    queue.put(8);
    assert.equal(await queue.getAsync({ timeout: 1000 }), 8);
  });

  await t.step("stop wakes async getters and ends async iteration", async () => {
    const queue = new EvictingQueue<number>();
    const waiting = queue.getAsync();
    const collected = (async () => {
      const items: number[] = [];
      for await (const item of queue) items.push(item);
      return items;
    })();
    queue.stop();
    await assert.rejects(waiting, QueueStopped);
    assert.deepEqual(await collected, []);
  });

  await t.step("using stops the queue at the end of the scope", () => {
    const outer = new EvictingQueue<number>();
    {
      using inner = EvictingQueue.from<number>(outer.handle);
      inner.put(1);
    }
    assert.ok(outer.stopped());
  });

  await t.step("FIFO holds across storage growth and wrap-around", () => {
    const queue = new EvictingQueue<string>();
    const expected: string[] = [];
    const random = seededRandom();
    for (let round = 0; round < 3000; round++) {
      if (random() < 0.6) {
        const item = `${round}:` + "x".repeat(Math.floor(random() * 300));
        queue.put(item);
        expected.push(item);
      } else if (expected.length > 0) {
        assert.equal(queue.get(0), expected.shift());
      }
      if (round % 97 === 0 && expected.length > 0) {
        assert.equal(queue.peek(), expected.at(-1));
        assert.equal(queue.peekLeft(), expected[0]);
      }
    }
    assert.deepEqual(queue.flush(), expected);
  });

  await t.step("a bounded queue evicts by bytes when items outgrow maxBytes", () => {
    const queue = new EvictingQueue<string>(100, { maxBytes: 4096 });
    for (let i = 0; i < 20; i++) queue.put(`${i}`.padEnd(1000, "."));
    assert.ok(queue.length < 20);
    assert.equal(queue.peek(), "19".padEnd(1000, "."));
    assert.equal(queue.stats.evicted, 20 - queue.length);
  });

  await t.step("an unbounded queue refuses items past maxBytes", () => {
    const queue = new EvictingQueue<string>(undefined, { maxBytes: 4096 });
    assert.throws(() => {
      for (let i = 0; i < 100; i++) queue.put("y".repeat(500));
    }, QueueFull);
    const held = queue.length;
    assert.ok(held > 0);
    queue.get();
    queue.put("fits again");
    assert.equal(queue.length, held);
    assert.throws(() => queue.put("z".repeat(5000)), QueueFull);
  });
});

Deno.test("EvictingQueue carries every cloneable kind", () => {
  const queue = new EvictingQueue<unknown>();
  const values: unknown[] = [
    new Map([["a", 1]]),
    new Date(0),
    12345678901234567890n,
    new Float64Array([1.5, -2]),
    new Uint8Array([1, 2, 3]),
    "s".repeat(3 * 1024 * 1024),
    { nested: { list: [1, "two", { three: [3] }], when: new Date(1) } },
    [1, 2, 3],
    null,
    undefined,
    new RangeError("carried"),
  ];
  for (const value of values) queue.put(value);
  for (const value of values) assert.deepEqual(queue.get(), value);
});

Deno.test("EvictingQueue rejects bad input", async (t) => {
  await t.step("sizes", () => {
    for (const size of [-1, 0, 1.5, NaN, Infinity, 2 ** 31]) {
      assert.throws(() => new EvictingQueue(size), RangeError, `size ${size}`);
    }
    assert.throws(() => new EvictingQueue(1, { maxBytes: 10 }), RangeError);
    assert.throws(() => new EvictingQueue(1, { maxBytes: 1.5e9 }), RangeError);
  });

  await t.step("timeouts", () => {
    const queue = new EvictingQueue<number>();
    assert.throws(() => queue.get(-1), RangeError);
    assert.throws(() => queue.iterTimeout(-5), RangeError);
  });

  await t.step("uncloneable values name their path and enqueue nothing", () => {
    const queue = new EvictingQueue<unknown>(3);
    queue.put("kept");
    assert.throws(() => queue.put({ job: { run: () => 1 } }), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /value\.job\.run/);
      return true;
    });
    assert.throws(() => queue.put(Symbol("s")), TypeError);
    assert.equal(queue.length, 1);
    assert.deepEqual(queue.stats, { puts: 1, gets: 0, evicted: 0 });
  });

  await t.step("handles", () => {
    assert.throws(() => EvictingQueue.from({ kind: "Lock" } as never), TypeError);
    assert.throws(() => EvictingQueue.from(null as never), TypeError);
  });
});

Deno.test("EvictingQueue across workers", async (t) => {
  await t.step(
    "1 producer worker to the main thread: 200k items, once each, in order",
    async () => {
      const queue = new EvictingQueue<[number, number]>();
      const count = 200_000;
      const { worker, reply } = startWorker({
        op: "produce",
        handle: queue.handle,
        producer: 0,
        count,
        finished: new SharedArrayBuffer(4),
        producers: 1,
      });
      let expected = 0;
      for (const [producer, i] of queue) {
        assert.equal(producer, 0);
        if (i !== expected) assert.fail(`expected item ${expected}, got ${i}`);
        expected++;
      }
      assert.equal(expected, count);
      await reply;
      worker.terminate();
    },
  );

  await t.step(
    "2 producers to 2 consumers (main and a worker): exactly once, FIFO per producer",
    async () => {
      const queue = new EvictingQueue<[number, number]>();
      const count = 200_000;
      const finished = new SharedArrayBuffer(4);
      const consumer = startWorker({ op: "consume", handle: queue.handle, producers: 2 });
      const producers = [0, 1].map((producer) =>
        startWorker({
          op: "produce",
          handle: queue.handle,
          producer,
          count,
          finished,
          producers: 2,
        })
      );
      const mainSeen = [0, 0];
      const next = [0, 0];
      let outOfOrder = 0;
      for (const [producer, i] of queue) {
        if (i < next[producer]!) outOfOrder++;
        next[producer] = i + 1;
        mainSeen[producer]!++;
      }
      const workerResult = await consumer.reply as { seen: number[]; outOfOrder: number };
      await Promise.all(producers.map((p) => p.reply));
      for (const p of [...producers, consumer]) p.worker.terminate();
      assert.equal(outOfOrder, 0);
      assert.equal(workerResult.outOfOrder, 0);
      assert.equal(mainSeen[0]! + workerResult.seen[0]!, count);
      assert.equal(mainSeen[1]! + workerResult.seen[1]!, count);
      assert.deepEqual(queue.stats, { puts: 2 * count, gets: 2 * count, evicted: 0 });
    },
  );

  await t.step("stop() wakes a getter blocked in a worker", async () => {
    const queue = new EvictingQueue<number>();
    const blocked = startWorker({ op: "blockingGet", handle: queue.handle }, (d) => "result" in d);
    // Wait until the worker is registered as a sleeping reader, so that stop() must wake it.
    const control = new Int32Array(queue.handle.ring.control);
    while (Atomics.load(control, CTL_READERS) === 0) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const stoppedAt = performance.now();
    queue.stop();
    const { result } = await blocked.reply;
    const latency = performance.now() - stoppedAt;
    blocked.worker.terminate();
    assert.equal(result, "QueueStopped");
    assert.ok(latency < 1000, `woke after ${latency} ms`);
  });
});

Deno.test("a writer killed under contention leaves queues and channels usable", async () => {
  // 40 threads terminated and 20 pool tasks timed out while putting into a full, evicting queue
  // (both of its locks) and a channel; then puts from main and from a new thread. A lock left
  // held would hang the child, which is killed after 60 s.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./testdata/kill_writers.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const { code, stdout, stderr } = await child.output().finally(() => clearTimeout(timer));
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.match(
    text,
    /killed 40 writers\ntimed out 20 pool tasks\nmain put ok\nworker put ok true\nchannel write ok/,
  );
});

Deno.test("EvictingQueue batches: putMany, getMany, getManyAsync", async (t) => {
  await t.step("in order, evicting the oldest when bounded", () => {
    const queue = new EvictingQueue<number>(4);
    queue.putMany([1, 2, 3, 4, 5, 6]);
    assert.deepEqual(queue.getMany(3), [3, 4, 5]);
    assert.deepEqual(queue.getMany(10), [6]);
    assert.equal(queue.stats.evicted, 2);
    queue.putMany(new Set([7, 8]));
    assert.deepEqual(queue.flush(), [7, 8]);
  });

  await t.step("a getter that puts while its batch is laid out leaves both batches whole", () => {
    const outer = new EvictingQueue<unknown>();
    const inner = new EvictingQueue<unknown>();
    const sneaky = {
      get value(): string {
        inner.putMany(["a".repeat(40), 7, 8, { z: 1 }]);
        inner.put(9);
        return "outer";
      },
    };
    outer.putMany([1, 2, "first string here", sneaky, 3.5, "last"]);
    assert.deepEqual(outer.flush(), [1, 2, "first string here", { value: "outer" }, 3.5, "last"]);
    assert.deepEqual(inner.flush(), ["a".repeat(40), 7, 8, { z: 1 }, 9]);
  });

  await t.step("typed arrays of numbers go in bulk; bigint arrays as bigints", () => {
    const queue = new EvictingQueue<number | bigint>(3000);
    queue.putMany(Float64Array.of(0.5, -0, NaN));
    queue.putMany(Int32Array.of(-1, 2 ** 31 - 1));
    queue.putMany(Float32Array.of(0.1)); // 0.1 as a float32 is exactly a double too
    queue.putMany(Uint8Array.of(255));
    queue.putMany(new Uint16Array(2500).map((_, i) => i)); // longer than one block
    queue.putMany(BigInt64Array.of(-2n));
    const all = queue.flush();
    assert.deepEqual(all.slice(0, 7), [0.5, -0, NaN, -1, 2 ** 31 - 1, Math.fround(0.1), 255]);
    assert.ok(Object.is(all[1], -0));
    assert.deepEqual(all.slice(7, -1), Array.from({ length: 2500 }, (_, i) => i));
    assert.equal(all.at(-1), -2n);
    const bounded = new EvictingQueue<number>(4);
    bounded.putMany(Float64Array.of(1, 2, 3, 4, 5, 6));
    assert.deepEqual(bounded.flush(), [3, 4, 5, 6]);
    assert.equal(bounded.stats.evicted, 2);
  });

  await t.step("getMany blocks for the first item, then times out or ends", async () => {
    const queue = new EvictingQueue<string>();
    assert.throws(() => queue.getMany(2, 5), QueueTimeout);
    setTimeout(() => queue.putMany(["a", "b", "c"]), 10);
    assert.deepEqual(await queue.getManyAsync(2, { timeout: 5000 }), ["a", "b"]);
    queue.stop();
    assert.deepEqual(queue.getMany(5), ["c"]); // what is left, then
    assert.throws(() => queue.getMany(5), QueueStopped);
    await assert.rejects(queue.getManyAsync(5), QueueStopped);
    assert.throws(() => queue.putMany([1 as never]), QueueStopped);
  });

  await t.step("one uncloneable item adds none; an item over maxBytes stops the batch", () => {
    const queue = new EvictingQueue<unknown>(undefined, { maxBytes: 1024 });
    assert.throws(() => queue.putMany([1, () => 2, 3]), /values\[1\]/);
    assert.equal(queue.length, 0);
    assert.throws(() => queue.putMany([1, "x".repeat(5000), 3]), QueueFull);
    assert.deepEqual(queue.flush(), [1]);
  });

  await t.step("abort and bad counts", async () => {
    const queue = new EvictingQueue<number>();
    const controller = new AbortController();
    const waiting = queue.getManyAsync(3, { signal: controller.signal });
    controller.abort(new Error("enough"));
    await assert.rejects(waiting, /enough/);
    for (const count of [0, -1, 1.5, NaN]) {
      assert.throws(() => queue.getMany(count), RangeError);
      await assert.rejects(queue.getManyAsync(count), RangeError);
    }
  });

  await t.step(
    "2 producers' mixed batches to 2 getMany consumers: exactly once, FIFO per producer",
    async () => {
      // Runs of numbers (blocks, read in part or whole) between strings (codec records), through
      // a ring that starts small: blocks wrap around its end and the storage grows under them.
      const queue = new EvictingQueue<number | string>();
      const { StoppableThread } = await import("./thread.ts");
      const perProducer = 30_000;
      const item = (producer: number, i: number): number | string =>
        i % 5 === 4 ? `${producer}:${i}` : producer * 1_000_000 + i;
      const parse = (value: number | string): [number, number] =>
        typeof value === "string"
          ? value.split(":").map(Number) as [number, number]
          : [Math.floor(value / 1_000_000), value % 1_000_000];
      // Thread targets travel as source: they repeat `item` and `parse` rather than capture them.
      const producer = (
        _t: unknown,
        q: EvictingQueue<number | string>,
        p: number,
        count: number,
      ): void => {
        const item = (i: number): number | string => i % 5 === 4 ? `${p}:${i}` : p * 1_000_000 + i;
        for (let i = 0; i < count;) {
          const batch: (number | string)[] = [];
          for (const end = Math.min(count, i + 1 + (i % 97)); i < end; i++) batch.push(item(i));
          q.putMany(batch);
        }
      };
      const consumer = (_t: unknown, q: EvictingQueue<number | string>): number[][] => {
        const seen: number[][] = [[], []];
        for (;;) {
          let values: (number | string)[];
          try {
            values = q.getMany(1 + (seen[0]!.length % 300), 10_000);
          } catch (error) {
            if ((error as Error).name === "QueueStopped") return seen;
            throw error;
          }
          for (const value of values) {
            const [p, i] = typeof value === "string"
              ? value.split(":").map(Number)
              : [Math.floor(value / 1_000_000), value % 1_000_000];
            seen[p!]!.push(i!);
          }
        }
      };
      const other = new StoppableThread(consumer, { args: [queue] }).start();
      const producers = [0, 1].map((p) =>
        new StoppableThread(producer, { args: [queue, p, perProducer] }).start()
      );
      const seen: number[][] = [[], []];
      const draining = (async () => {
        for (;;) {
          let values: (number | string)[];
          try {
            values = await queue.getManyAsync(64, { timeout: 10_000 });
          } catch (error) {
            if (error instanceof QueueStopped) return;
            throw error;
          }
          for (const value of values) {
            const [p, i] = parse(value);
            assert.equal(value, item(p, i));
            seen[p]!.push(i);
          }
        }
      })();
      await Promise.all(producers.map((thread) => thread.join()));
      queue.stop();
      await draining;
      const theirs = await other.join();
      for (const p of [0, 1]) {
        for (const list of [seen[p]!, theirs[p]!]) {
          assert.ok(list.every((value, k) => k === 0 || value > list[k - 1]!), "FIFO per producer");
        }
        const all = [...seen[p]!, ...theirs[p]!].sort((a, b) => a - b);
        assert.equal(all.length, perProducer);
        assert.ok(all.every((value, k) => value === k), "each item exactly once");
      }
      assert.deepEqual(queue.stats, { puts: 2 * perProducer, gets: 2 * perProducer, evicted: 0 });
    },
  );

  await t.step("a worker's batches reach the main thread whole and in order", async () => {
    const queue = new EvictingQueue<number>();
    const { StoppableThread } = await import("./thread.ts");
    const producer = new StoppableThread((_t, q: EvictingQueue<number>) => {
      for (let i = 0; i < 100; i++) q.putMany(Array.from({ length: 100 }, (_, j) => i * 100 + j));
      q.stop();
    }, { args: [queue] }).start();
    const received: number[] = [];
    for (;;) {
      try {
        received.push(...await queue.getManyAsync(256, { timeout: 10_000 }));
      } catch (error) {
        if (error instanceof QueueStopped) break;
        throw error;
      }
    }
    await producer.join();
    assert.equal(received.length, 10_000);
    assert.ok(received.every((value, i) => value === i));
  });
});
