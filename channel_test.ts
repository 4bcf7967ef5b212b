import assert from "node:assert/strict";
import { countWaits } from "./testdata/wait_count.ts";
import { seededRandom } from "./testdata/random.ts";
import { waitFor, within } from "./testdata/within.ts";
import { channel, ChannelClosed, ChannelReader, ChannelWriter, QueueTimeout } from "./channel.ts";
import { StoppableThread, type ThreadContext } from "./thread.ts";
import { Pool } from "./pool.ts";
import { Event } from "./sync.ts";

Deno.test("channel across workers", async (t) => {
  await t.step("1 writer worker -> main, size 4, 100k items: none lost, in order", async () => {
    const [writer, reader] = channel<number>({ size: 4 });
    const producer = new StoppableThread((_t, writer: ChannelWriter<number>, count: number) => {
      for (let i = 0; i < count; i++) writer.write(i);
      writer.close();
    }, { args: [writer, 100_000] }).start();
    let expected = 0;
    for (const item of reader) { // blocking reads on the main thread
      assert.equal(item, expected);
      expected++;
    }
    assert.equal(expected, 100_000);
    await producer.join();
  });

  await t.step("2 writers x 2 readers: every item exactly once", async () => {
    const [writer, reader] = channel<[number, number]>({ size: 16 });
    const write = (_t: ThreadContext, writer: ChannelWriter<[number, number]>, id: number) => {
      for (let i = 0; i < 10_000; i++) writer.write([id, i]);
    };
    const read = (_t: ThreadContext, reader: ChannelReader<[number, number]>) => {
      const seen: number[] = [];
      for (const [id, i] of reader) seen.push(id * 100_000 + i);
      return seen;
    };
    const writers = [1, 2].map((id) => new StoppableThread(write, { args: [writer, id] }).start());
    const readers = [1, 2].map(() => new StoppableThread(read, { args: [reader] }).start());
    await Promise.all(writers.map((w) => w.join()));
    writer.close();
    const [a, b] = await Promise.all(readers.map((r) => r.join()));
    const all = [...a!, ...b!].sort((x, y) => x - y);
    assert.equal(all.length, 20_000);
    assert.equal(new Set(all).size, 20_000);
    // Each reader sees each writer's items in order.
    for (const seen of [a!, b!]) {
      for (const id of [1, 2]) {
        const mine = seen.filter((v) => Math.floor(v / 100_000) === id);
        assert.deepEqual(mine, [...mine].sort((x, y) => x - y));
      }
    }
  });
});

Deno.test("channel semantics", async (t) => {
  await t.step("close: reads drain, then end; writes throw ChannelClosed", async () => {
    const [writer, reader] = channel<string>();
    writer.write("a");
    writer.write("b");
    assert.equal(writer.close(), true);
    assert.equal(writer.close(), false); // closing twice is fine
    assert.throws(() => writer.write("c"), ChannelClosed);
    await assert.rejects(writer.writeAsync("c"), ChannelClosed);
    assert.equal(reader.closed, true);
    assert.deepEqual(reader.read(5), ["a", "b"]); // fewer: closed
    assert.deepEqual(reader.read(), []);
    assert.deepEqual(await reader.readAsync(), []);
  });

  await t.step("timeouts: full writes and empty reads", async () => {
    const [writer, reader] = channel<number>({ size: 1 });
    writer.write(1);
    assert.throws(() => writer.write(2, { timeout: 10 }), QueueTimeout);
    await assert.rejects(writer.writeAsync(2, 10), QueueTimeout);
    assert.deepEqual(reader.read(1), [1]);
    assert.throws(() => reader.read(1, { timeout: 10 }), QueueTimeout);
    await assert.rejects(reader.readAsync(1, 10), QueueTimeout);
    writer.write(3);
    assert.deepEqual(reader.read(2, 10), [3]); // a partial batch is returned, never dropped
  });

  await t.step("readAsync waits without blocking; abort rejects", async () => {
    const [writer, reader] = channel<number>();
    const pending = reader.readAsync(2);
    await writer.writeAsync(1);
    await writer.writeAsync(2);
    assert.deepEqual(await pending, [1, 2]);
    const controller = new AbortController();
    const aborted = reader.readAsync(1, { signal: controller.signal });
    controller.abort(new RangeError("gave up"));
    await assert.rejects(aborted, RangeError);
  });

  await t.step("hooks: writer.before, reader.map, reader.beforeRead", () => {
    const [writer, reader] = channel<string>();
    const numbers = writer.before((n: number) => `#${n}`);
    numbers.write(1);
    numbers.write(2);
    writer.close();
    const counts: number[] = [];
    const upper = reader.map((s) => s.toUpperCase()).beforeRead((count) => counts.push(count));
    assert.deepEqual(upper.read(1), ["#1"]);
    assert.deepEqual(upper.read(), ["#2"]);
    assert.deepEqual(counts, [1, Infinity]);
  });

  await t.step("async iteration ends at close; an early exit closes the channel", async () => {
    const [writer, reader] = channel<number>();
    for (let i = 0; i < 3; i++) writer.write(i);
    writer.close();
    const all: number[] = [];
    for await (const item of reader) all.push(item);
    assert.deepEqual(all, [0, 1, 2]);

    const [w2, r2] = channel<number>();
    w2.write(1);
    w2.write(2);
    for await (const _ of r2) break;
    assert.equal(w2.closed, true);
    assert.throws(() => w2.write(3), ChannelClosed);

    const [w3, r3] = channel<number>();
    w3.write(1);
    for await (const _ of r3.values({ preventCancel: true })) break;
    assert.equal(w3.closed, false);
    w3.close();
  });

  await t.step("Web Streams: piping with backpressure bounds the writer", async () => {
    const [writer, reader] = channel<number>({ size: 2 });
    let produced = 0;
    const source = new ReadableStream<number>({
      pull(controller): void {
        if (produced === 50) controller.close();
        else controller.enqueue(produced++);
      },
    }, { highWaterMark: 0 });
    const piping = source.pipeTo(writer.writable);
    const received: number[] = [];
    const slowReader = reader.readable.getReader();
    for (let i = 0; i < 5; i++) {
      const { value } = await slowReader.read();
      received.push(value!);
      await new Promise((resolve) => setTimeout(resolve, 5));
      // The writer is held back: at most the channel's size plus one in transit ahead.
      assert.ok(produced - received.length <= 4, `produced ${produced}, read ${received.length}`);
    }
    for (;;) {
      const { value, done } = await slowReader.read();
      if (done) break;
      received.push(value);
    }
    await piping;
    assert.deepEqual(received, Array.from({ length: 50 }, (_, i) => i));
  });

  await t.step("cancelling the readable closes the channel", async () => {
    const [writer, reader] = channel<number>();
    const stream = reader.readable;
    const pending = stream.getReader();
    const read = pending.read();
    await pending.cancel();
    assert.deepEqual(await read, { value: undefined, done: true });
    assert.equal(writer.closed, true);
  });

  await t.step("size reports the capacity asked for, on both ends and across handles", () => {
    for (const size of [0, 1, 4, 1024]) {
      const [writer, reader] = channel<number>({ size });
      assert.equal(writer.size, size);
      assert.equal(reader.size, size);
      assert.equal(ChannelReader.from(structuredClone(reader.handle)).size, size);
      assert.equal(reader.length, 0);
      writer.close();
    }
    assert.equal(channel()[0].size, 1024);
  });

  await t.step("bad input", () => {
    assert.throws(() => channel({ size: -1 }), RangeError);
    assert.throws(() => channel({ size: 1.5 }), RangeError);
    const [writer, reader] = channel<unknown>();
    assert.throws(() => writer.write({ f: () => 1 }), { name: "TypeError", message: /item\.f/ });
    assert.equal(reader.length, 0);
    assert.throws(() => reader.read(0), RangeError);
    assert.throws(() => reader.read(1, -1), RangeError);
    assert.throws(() => ChannelReader.from(writer.handle as never), TypeError);
    assert.throws(() => ChannelWriter.from({} as never), TypeError);
    writer.close();
  });
});

Deno.test("pipelines: Pool.map stages over channels", async (t) => {
  await using pool = new Pool({ size: 2 });

  await t.step("nothing runs before the consumer reads; read-ahead is bounded", async () => {
    const [writer, reader] = channel<number>({ size: 4 });
    const producer = new StoppableThread((_t, writer: ChannelWriter<number>) => {
      let written = 0;
      try {
        for (let i = 0; i < 1000; i++) {
          writer.write(i);
          written++;
        }
        writer.close();
      } catch (error) {
        if (!(error instanceof Error && error.name === "ChannelClosed")) throw error;
      }
      return written;
    }, { args: [writer] }).start();
    const squared = pool.map((x: number) => x * x, reader, { chunkSize: 3, name: "square" });
    const plusOne = pool.map((x: number) => x + 1, squared, { chunkSize: 2, name: "plusOne" });
    // Lazy: no stage reads from the channel, so the producer is held at the channel's size.
    while (reader.length < 4) await new Promise((resolve) => setTimeout(resolve, 1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(reader.length, 4);
    const results: number[] = [];
    for await (const value of plusOne) {
      results.push(value);
      if (results.length === 10) break; // abandon the pipeline
    }
    assert.deepEqual(results, Array.from({ length: 10 }, (_, i) => i * i + 1));
    // Orphan cleanup: breaking out closed the channel, so the producer stopped early.
    const written = await producer.join();
    assert.ok(written < 1000, `the producer stopped at ${written}`);
    assert.equal(pool.stats.running + pool.stats.queued, 0);
  });

  await t.step("an error in one stage reaches the consumer, naming the stage", async () => {
    const [writer, reader] = channel<number>();
    for (let i = 0; i < 10; i++) writer.write(i);
    writer.close();
    const parsed = pool.map(
      (x: number) => {
        if (x === 5) throw new RangeError(`bad item ${x}`);
        return x;
      },
      reader,
      { name: "parse" },
    );
    const doubled = pool.map((x: number) => x * 2, parsed, { name: "double" });
    await assert.rejects(
      async () => {
        for await (const _ of doubled) { /* consume */ }
      },
      (error: Error) => {
        assert.match(error.message, /pipeline stage "parse": RangeError: bad item 5/);
        assert.ok(error.cause instanceof RangeError);
        return true;
      },
    );
  });

  await t.step("abort cancels the whole pipeline", async () => {
    const [writer, reader] = channel<number>({ size: 8 });
    for (let i = 0; i < 8; i++) writer.write(i);
    const controller = new AbortController();
    const stage = pool.map((x: number) => x, reader, { signal: controller.signal });
    const first = await stage.next();
    assert.deepEqual(first, { value: 0, done: false });
    controller.abort(new RangeError("cancelled"));
    await assert.rejects(stage.next(), RangeError);
    assert.equal(writer.closed, true);
  });
});

Deno.test("channel numeric options are validated, 64-bit sizes not truncated", () => {
  for (const maxBytes of [NaN, -5, 1.5, 0, 1e12, "64" as unknown as number]) {
    assert.throws(
      () => channel({ maxBytes }),
      (error: unknown) =>
        error instanceof RangeError && /maxBytes.*current value is/.test(error.message),
      String(maxBytes),
    );
  }
  const [writer, reader] = channel<string>({ maxBytes: 1_000_000 });
  writer.write("x".repeat(200));
  assert.deepEqual(reader.read(1), ["x".repeat(200)]);
});

Deno.test("channel with many writers waiting for room", async (t) => {
  await t.step("each read wakes the writers it made room for, not every one", async () => {
    // Waking every waiting writer on each read made N writers on a full channel quadratic (each
    // read woke all N, one got the room): 1000 async writers on a one-item channel took 12 s.
    const [writer, reader] = channel<number>({ size: 1 });
    const count = 200;
    using counted = countWaits();
    const writes = Array.from({ length: count }, (_, i) => writer.writeAsync(i));
    const seen = new Set<number>();
    for await (const item of reader) {
      seen.add(item);
      if (seen.size === count) break;
    }
    await Promise.all(writes);
    assert.equal(seen.size, count);
    // Each writer waits about once (a few twice, when another took the room first); waking
    // every writer per read would make it about count * count / 2.
    assert.ok(counted.waits < count * 4, `${counted.waits} waits for ${count} writers`);
  });

  await t.step("room one read frees lets in every writer it fits, with no more reads", async () => {
    // A read wakes as many writers as items it took; a woken writer that finds room left after
    // its put wakes the next one.
    const [writer, reader] = channel<string>({ size: 100, maxBytes: 256 });
    writer.write("x".repeat(200)); // the channel is full by bytes
    const writes = Array.from({ length: 5 }, (_, i) => writer.writeAsync(`small ${i}`));
    // All five wait for room: a waiting put registers before writeAsync returns its promise.
    assert.deepEqual(reader.read(1), ["x".repeat(200)]);
    // No further read: the room fits all five (without the hand-on, four would wait for good).
    await within(Promise.all(writes), 5000, "writers waiting with room for them");
    assert.deepEqual(
      reader.read(5).toSorted(),
      Array.from({ length: 5 }, (_, i) => `small ${i}`),
    );
  });

  await t.step("writers of every size get in, however the wake-ups fall", async () => {
    // A woken writer whose record does not fit hands the wake-up on and waits again; every
    // writer gets in as reads make room.
    const [writer, reader] = channel<string>({ size: 2, maxBytes: 64 });
    const items = Array.from({ length: 60 }, (_, i) => "x".repeat(i % 3 === 0 ? 40 : 2) + i);
    const writes = items.map((item) => writer.writeAsync(item));
    const seen: string[] = [];
    for await (const item of reader) {
      seen.push(item);
      if (seen.length === items.length) break;
    }
    await Promise.all(writes);
    assert.deepEqual(seen.toSorted(), items.toSorted());
  });
});

Deno.test("an unbuffered channel (size 0) hands each item to a reader, as Go's make(chan T)", async (t) => {
  await t.step("a write waits for a reader; unread, it times out and takes its item back", () => {
    const [writer, reader] = channel<number>({ size: 0 });
    assert.throws(() => writer.write(1, 20), {
      name: "QueueTimeout",
      message: "Cannot write as no reader took the item within 20 ms",
    });
    assert.equal(reader.length, 0); // taken back: no reader will see it
    assert.throws(() => reader.read(1, 0), QueueTimeout);
    writer.close();
  });

  await t.step("writeAsync resolves only once a reader took the item", async () => {
    const [writer, reader] = channel<string>({ size: 0 });
    let written = false;
    const write = writer.writeAsync("a").then(() => written = true);
    await new Promise((resolve) => setTimeout(resolve, 0)); // a turn of the event loop
    assert.equal(written, false); // nobody read: it cannot have resolved
    assert.deepEqual(reader.read(1), ["a"]);
    await within(write, 5000, "the write");
    assert.equal(written, true);
    writer.close();
  });

  await t.step("a blocking write in a worker returns after the main thread reads", async () => {
    const [writer, reader] = channel<number>({ size: 0 });
    const returned = new Event();
    const producer = new StoppableThread((_t, writer: ChannelWriter<number>, returned: Event) => {
      writer.write(42);
      returned.set();
    }, { args: [writer, returned] }).start();
    await waitFor(() => reader.length === 1); // the worker's item is in
    assert.equal(returned.wait(50), false); // no read yet: the write has not returned
    assert.deepEqual(reader.read(1), [42]);
    assert.equal(await returned.waitAsync(5000), true);
    await producer.join();
  });

  await t.step("100 items in FIFO order; 4 writers x 250: each item exactly once", async () => {
    const [writer, reader] = channel<number>({ size: 0 });
    const write = (_t: ThreadContext, writer: ChannelWriter<number>, from: number, n: number) => {
      for (let i = from; i < from + n; i++) writer.write(i);
    };
    const one = new StoppableThread(write, { args: [writer, 0, 100] }).start();
    assert.deepEqual(reader.read(100), Array.from({ length: 100 }, (_, i) => i));
    await one.join();
    const four = [0, 1, 2, 3].map((k) =>
      new StoppableThread(write, { args: [writer, 1000 * k, 250] }).start()
    );
    const seen = reader.read(1000).sort((a, b) => a - b);
    assert.deepEqual(
      seen,
      [0, 1, 2, 3].flatMap((k) => Array.from({ length: 250 }, (_, i) => 1000 * k + i)),
    );
    await Promise.all(four.map((w) => w.join()));
    assert.equal(reader.length, 0);
    writer.close();
  });

  await t.step(
    "close wakes a waiting writer with ChannelClosed; its item is not delivered",
    async () => {
      const [writer, reader] = channel<number>({ size: 0 });
      const write = writer.writeAsync(1);
      await waitFor(() => reader.length === 1);
      reader.close();
      await assert.rejects(within(write, 5000, "the write"), ChannelClosed);
      assert.deepEqual(reader.read(), []);
      // The same for a blocking write, in a worker.
      const [writer2, reader2] = channel<number>({ size: 0 });
      const producer = await blockedWriter(writer2, reader2, 2);
      writer2.close();
      await assert.rejects(within(producer.join(), 5000, "the thread"), { name: "ChannelClosed" });
      assert.deepEqual(reader2.read(), []);
    },
  );

  await t.step("abort rejects with the reason and takes the item back", async () => {
    const [writer, reader] = channel<number>({ size: 0 });
    const controller = new AbortController();
    const write = writer.writeAsync(1, { signal: controller.signal });
    await waitFor(() => reader.length === 1);
    controller.abort(new Error("gave up"));
    await assert.rejects(within(write, 5000, "the write"), { message: "gave up" });
    assert.equal(reader.length, 0);
    await assert.rejects(writer.writeAsync(2, { signal: controller.signal }), {
      message: "gave up",
    });
    writer.close();
  });

  await t.step("a write whose item was read before the abort resolves", async () => {
    const [writer, reader] = channel<number>({ size: 0 });
    const controller = new AbortController();
    const write = writer.writeAsync(5, { signal: controller.signal });
    assert.deepEqual(reader.read(1), [5]); // taken first, abort second
    controller.abort();
    await within(write, 5000, "the write");
    writer.close();
  });

  await t.step("a writer thread terminated while it waits takes its item back", async () => {
    const [writer, reader] = channel<number>({ size: 0 });
    const producer = await blockedWriter(writer, reader, 1);
    producer.terminate();
    await assert.rejects(producer.join());
    await waitFor(() => reader.length === 0); // taken back
    assert.throws(() => reader.read(1, 0), QueueTimeout);
    writer.close();
  });

  await t.step(
    "3 writer threads, 2 reader threads, async writers aborted: each write that returned is read once, no other",
    async () => {
      const [writer, reader] = channel<number>({ size: 0 });
      // Thread targets travel as source: each carries its own seeded generator (testdata/random.ts).
      const write = (_t: ThreadContext, writer: ChannelWriter<number>, id: number) => {
        let seed = id * 7919;
        const random = () => (seed = (seed * 48271) % 0x7fffffff) / 0x7fffffff;
        const written: number[] = [];
        for (let i = 0; i < 500; i++) {
          const p = random();
          try {
            // A poll, a short wait, or no limit: the take-back races readers in the first two.
            writer.write(id * 1000 + i, p < 0.3 ? 0 : p < 0.6 ? random() * 0.2 : undefined);
            written.push(id * 1000 + i);
          } catch (error) {
            if ((error as Error).name !== "QueueTimeout") throw error;
          }
        }
        return written;
      };
      const read = (_t: ThreadContext, reader: ChannelReader<number>, id: number) => {
        let seed = id * 104729;
        const random = () => (seed = (seed * 48271) % 0x7fffffff) / 0x7fffffff;
        const read: number[] = [];
        for (;;) {
          try {
            const items = reader.read(1 + Math.floor(random() * 3), random() * 0.3);
            if (items.length === 0) return read; // closed and drained
            read.push(...items);
          } catch (error) {
            if ((error as Error).name !== "QueueTimeout") throw error;
          }
        }
      };
      const writers = [1, 2, 3].map((id) =>
        new StoppableThread(write, { args: [writer, id] }).start()
      );
      const readers = [1, 2].map((id) => new StoppableThread(read, { args: [reader, id] }).start());
      const random = seededRandom(7);
      const writtenHere: number[] = [];
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 100; i++) {
        const controller = new AbortController();
        writes.push(
          writer.writeAsync(9000 + i, { signal: controller.signal }).then(
            () => void writtenHere.push(9000 + i),
            (error) => assert.equal(error.message, "gave up"),
          ),
        );
        const abort = () => controller.abort(new Error("gave up"));
        if (i % 3 === 0) queueMicrotask(abort);
        else if (i % 3 === 1) setTimeout(abort, random() * 2);
        if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const written = (await Promise.all(writers.map((w) => w.join()))).flat();
      await Promise.all(writes);
      writer.close();
      const read2 = (await Promise.all(readers.map((r) => r.join()))).flat();
      const sorted = (values: number[]) => values.sort((a, b) => a - b);
      assert.deepEqual(sorted(read2), sorted([...written, ...writtenHere]));
      assert.ok(written.length > 0 && written.length < 1500, `${written.length} of 1500 written`);
    },
  );

  await t.step("the handle keeps the mode: an end rebuilt elsewhere hands off too", () => {
    const [writer, reader] = channel<number>({ size: 0 });
    const other = ChannelWriter.from<number>(structuredClone(writer.handle));
    assert.throws(() => other.write(1, 10), QueueTimeout);
    assert.equal(reader.length, 0);
    writer.close();
  });
});

/** A thread blocked in an unbuffered write of `item`, returned once its item is in the channel. */
async function blockedWriter(
  writer: ChannelWriter<number>,
  reader: ChannelReader<number>,
  item: number,
): Promise<StoppableThread<[ChannelWriter<number>, number], void>> {
  const thread = new StoppableThread((_t, writer: ChannelWriter<number>, item: number) => {
    writer.write(item);
  }, { args: [writer, item] }).start();
  await waitFor(() => reader.length === 1); // the worker's item is in
  return thread;
}

Deno.test("Go's TestMultiConsumer: 8 threads between two channels lose and add nothing", async (t) => {
  for (const size of [0, 1, 24]) {
    await t.step(`size ${size}`, async () => {
      const pn = [2, 3, 7, 11, 13, 17, 19, 23, 27, 31];
      const [work, workReader] = channel<number>({ size });
      const [results, resultReader] = channel<number>({ size });
      const workers = Array.from({ length: 8 }, () =>
        new StoppableThread(
          (_t, work: ChannelReader<number>, results: ChannelWriter<number>) => {
            for (const value of work) results.write(value);
          },
          { args: [workReader, results] },
        ).start());
      let expected = 0;
      const feeder = (async () => {
        for (let i = 0; i < 5000; i++) {
          expected += pn[i % pn.length]!;
          await work.writeAsync(pn[i % pn.length]!);
        }
        work.close(); // no more work
        await Promise.all(workers.map((worker) => worker.join()));
        results.close(); // so there can be no more results
      })();
      let count = 0;
      let sum = 0;
      for await (const value of resultReader) {
        count++;
        sum += value;
      }
      await feeder;
      assert.equal(count, 5000);
      assert.equal(sum, expected);
    });
  }
});
