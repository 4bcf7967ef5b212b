import assert from "node:assert/strict";
import {
  Periodic,
  PollingMap,
  StoppableThread,
  type ThreadContext,
  WorkerCrashed,
} from "./thread.ts";
import { EvictingQueue } from "./queue.ts";
import { Event } from "./sync.ts";
import { channel, type ChannelWriter } from "./channel.ts";
import { waitFor, within } from "./testdata/within.ts";

const SLEEPER = new URL("./testdata/sleeper_thread.ts", import.meta.url);
const DEVICE = new URL("./testdata/thread_dict_device.ts", import.meta.url);

Deno.test("StoppableThread ports the theta seed", async (t) => {
  await t.step("sleeper(stop_event): the event passed as argument and as stopEvent", async () => {
    function sleeper(_thread: ThreadContext, stopEvent: Event, ticked: Event): number {
      let t = 0;
      while (!stopEvent.wait(5)) {
        t += 1;
        ticked.set();
      }
      return t;
    }
    const event = new Event();
    const ticked = new Event();
    const thread = new StoppableThread(sleeper, { args: [event, ticked], stopEvent: event });
    assert.equal(thread.stopEvent, event);
    thread.start();
    assert.equal(thread.isAlive(), true);
    assert.equal(thread.wait(25), false); // owner-side wait times out: nobody stopped it
    await ticked.waitAsync(); // it slept at least one tick (a loaded machine may take longer)
    thread.stop();
    thread.stop(); // idempotent
    assert.equal(thread.stopped(), true);
    assert.equal(thread.running(), false);
    assert.ok(await thread.join() >= 1);
    assert.equal(thread.isAlive(), false);
  });

  await t.step("SleeperThread: the subclass form is a module's default export", async () => {
    const thread = new StoppableThread<[number], number>(SLEEPER, { args: [5] }).start();
    thread.stop();
    assert.equal(typeof await thread.join(), "number");
  });

  await t.step("a named export, by option or URL fragment", async () => {
    const byOption = new StoppableThread(SLEEPER, { export: "named", name: "a" }).start();
    const byFragment = new StoppableThread(`${SLEEPER.href}#named`, { name: "b" }).start();
    assert.deepEqual(await Promise.all([byOption.join(), byFragment.join()]), [
      "named a",
      "named b",
    ]);
    const notFunction = new StoppableThread(SLEEPER, { export: "notAFunction" }).start();
    await assert.rejects(notFunction.join(), { name: "TypeError", message: /not a function/ });
  });
});

Deno.test("StoppableThread stops, fails and dies visibly", async (t) => {
  await t.step("stop wakes a thread blocked in wait() within a few ms", async () => {
    const ready = new Event();
    const thread = new StoppableThread((thread, ready: Event) => {
      ready.set();
      return thread.wait(60_000);
    }, { args: [ready] }).start();
    assert.equal(await ready.waitAsync(5000), true);
    const stopped = performance.now();
    thread.stop();
    assert.equal(await thread.join(), true);
    assert.ok(performance.now() - stopped < 1000, "woken long before its 60 s timeout");
  });

  await t.step("the signal aborts on stop, for async targets", async () => {
    const listening = new Event();
    const thread = new StoppableThread(async (thread, listening: Event) => {
      const aborted = new Promise((resolve) => thread.signal.addEventListener("abort", resolve));
      listening.set();
      await aborted;
      return [thread.signal.aborted, (thread.signal.reason as Error).name, thread.running()];
    }, { args: [listening] }).start();
    assert.equal(await listening.waitAsync(5000), true);
    thread.stop();
    assert.deepEqual(await thread.join(), [true, "AbortError", false]);
  });

  await t.step("a signal made after stop is already aborted", async () => {
    const thread = new StoppableThread((thread) => thread.signal.aborted);
    thread.stop();
    assert.equal(await thread.start().join(), true);
  });

  await t.step("waitAsync in the target", async () => {
    const ready = new Event();
    const thread = new StoppableThread(async (thread, ready: Event) => {
      const early = await thread.waitAsync(5);
      ready.set();
      return [early, await thread.waitAsync()];
    }, { args: [ready] }).start();
    assert.equal(await ready.waitAsync(5000), true);
    thread.stop();
    assert.deepEqual(await thread.join(), [false, true]);
  });

  await t.step("errors thrown by targets reach join, sync and async", async () => {
    const sync = new StoppableThread(() => {
      throw new RangeError("sync failure", { cause: { code: 7 } });
    }).start();
    await assert.rejects(sync.join(), (error: Error) => {
      assert.equal(error.name, "RangeError");
      assert.ok(error instanceof RangeError);
      assert.equal(error.message, "sync failure");
      assert.deepEqual(error.cause, { code: 7 });
      assert.match(error.stack ?? "", /sync failure/);
      return true;
    });
    const asyncFailure = new StoppableThread(async () => {
      await Promise.resolve();
      const error = new Error("async failure");
      error.name = "Custom";
      throw error;
    }).start();
    await assert.rejects(asyncFailure.join(), { name: "Custom", message: "async failure" });
  });

  await t.step("terminate() ends a thread stuck in while (true)", async () => {
    const thread = new StoppableThread(() => {
      while (true) { /* never looks at its stop event */ }
    }).start();
    assert.equal(thread.isAlive(), true);
    thread.stop();
    assert.equal(thread.isAlive(), true); // stop is cooperative
    thread.terminate();
    assert.equal(thread.isAlive(), false);
    await assert.rejects(thread.join(), WorkerCrashed);
  });

  await t.step("self.close() in the target rejects join with WorkerCrashed", async () => {
    const thread = new StoppableThread(() => {
      (globalThis as unknown as { close(): void }).close();
      return "unreachable";
    }).start();
    await assert.rejects(thread.join(), WorkerCrashed);
  });

  await t.step("bad use is refused clearly", async () => {
    const thread = new StoppableThread(() => 1);
    await assert.rejects(thread.join(), { name: "TypeError", message: /not started/ });
    thread.start();
    assert.throws(() => thread.start(), { name: "TypeError", message: /already started/ });
    assert.equal(await thread.join(), 1);
    assert.throws(
      () => new StoppableThread(() => 1, { args: [{ f: () => 1 }] as unknown as [] }),
      { name: "TypeError", message: /args\[0\]\.f/ },
    );
    assert.throws(() => new StoppableThread(Math.max as never), { name: "TypeError" });
    assert.throws(() => new StoppableThread(42 as never), { name: "TypeError" });
    assert.throws(() => new StoppableThread("./relative.ts"), {
      name: "TypeError",
      message: /absolute URL/,
    });
  });

  await t.step("await using stops and joins", async () => {
    let thread: StoppableThread<[], boolean>;
    {
      await using scoped = new StoppableThread((thread) => thread.wait()).start();
      thread = scoped;
    }
    assert.equal(thread.stopped(), true);
    assert.equal(thread.isAlive(), false);
  });
});

Deno.test("StoppableThread shares queues with the main thread", async (t) => {
  await t.step("two producer threads, 20k items each, main consumer: all, in order", async () => {
    const queue = new EvictingQueue<[number, number]>(1_000_000);
    const produce = (
      _thread: ThreadContext,
      queue: EvictingQueue<[number, number]>,
      id: number,
    ) => {
      for (let i = 0; i < 20_000; i++) queue.put([id, i]);
      return id;
    };
    const a = new StoppableThread(produce, { args: [queue, 1] }).start();
    const b = new StoppableThread(produce, { args: [queue, 2] }).start();
    // Blocking gets right after start(): the threads must not need this event loop to run.
    const next = new Map([[1, 0], [2, 0]]);
    for (let n = 0; n < 40_000; n++) {
      const [id, i] = queue.get(10_000);
      assert.equal(i, next.get(id), `producer ${id} in order`);
      next.set(id, i + 1);
    }
    assert.deepEqual(await Promise.all([a.join(), b.join()]), [1, 2]);
    assert.equal(queue.length, 0);
  });
});

Deno.test("Periodic ports fandango's ThreadedObject", async (t) => {
  await t.step("runs every period, compensating drift; stats add up", async () => {
    const times: number[] = [];
    await using job = new Periodic(() => performance.timeOrigin + performance.now(), {
      period: 20,
      start: true,
      onResult: (time) => times.push(time),
    });
    assert.equal(job.started(), true);
    await waitFor(() => times.length >= 10);
    job.stop();
    const stats = job.stats;
    assert.ok(stats.count >= 10);
    assert.equal(stats.errors, 0);
    assert.ok(stats.accDelay >= 0 && stats.delay >= 0);
    assert.ok(stats.usage >= 0 && stats.usage < 0.5, `usage ${stats.usage}`);
    assert.ok(Number.isFinite(stats.last));
    // Starts follow the schedule (first start + i * 20 ms), not the previous run's end: ten runs
    // span 180 ms, less whatever the first start was late by.
    const span = times[9]! - times[0]!;
    assert.ok(span >= 150 && span < 1000, `span ${span}`);
  });

  await t.step("stop really pauses; start resumes", async () => {
    let runs = 0;
    await using job = new Periodic(() => 1, { period: 5, onResult: () => runs++ });
    assert.equal(job.started(), false);
    assert.ok(Number.isNaN(job.stats.next));
    job.start();
    await waitFor(() => runs >= 3);
    job.stop();
    // A run under way when stopped still reports; let it land, then nothing more may come.
    await waitFor(() => runs === job.stats.count);
    const paused = job.stats.count;
    assert.equal(
      await new Promise((resolve) => setTimeout(() => resolve(job.stats.count), 60)),
      paused,
    );
    job.start();
    await waitFor(() => job.stats.count > paused);
  });

  await t.step("an error is counted and reported; the next run still happens", async () => {
    const errors: Error[] = [];
    await using job = new Periodic((thread: ThreadContext) => {
      const runs = ((globalThis as { runs?: number }).runs ?? 0) + 1;
      (globalThis as { runs?: number }).runs = runs;
      if (runs === 1) throw new TypeError(`run ${runs} failed in ${thread.name}`);
      return runs;
    }, { period: 5, start: true, onError: (error) => errors.push(error), name: "flaky" });
    // The counters are shared memory, the error comes by message: wait for both (on a busy
    // single CPU the message came after the third run's count).
    await waitFor(() => job.stats.count >= 3 && errors.length > 0);
    assert.equal(job.stats.errors, 1);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof TypeError);
    assert.equal(errors[0]!.message, "run 1 failed in flaky");
  });

  await t.step("a late job waits minWait; the period is settable", async () => {
    const starts: number[] = [];
    await using job = new Periodic(() => {
      const end = performance.now() + 15; // busier than its period
      while (performance.now() < end) { /* work */ }
      return performance.timeOrigin + performance.now();
    }, { period: 5, minWait: 10, start: true, onResult: (time) => starts.push(time) });
    await waitFor(() => starts.length >= 4);
    job.stop();
    for (let i = 1; i < 4; i++) {
      assert.ok(starts[i]! - starts[i - 1]! >= 24, "15 ms of work + 10 ms minWait");
    }
    assert.ok(job.stats.accDelay > 0);
    job.period = 50;
    assert.equal(job.period, 50);
    assert.throws(() => (job.period = 0), RangeError);
    assert.throws(() => (job.period = Infinity), RangeError);
  });

  await t.step("instances, stopAll and killAll", async () => {
    const a = new Periodic(() => 1, { period: 5, start: true });
    const b = new Periodic(new URL(`${SLEEPER.href}#named`), { period: 5, start: true });
    assert.ok(Periodic.instances.has(a) && Periodic.instances.has(b));
    Periodic.stopAll();
    assert.equal(a.started() || b.started(), false);
    await Periodic.killAll();
    assert.equal(a.isAlive() || b.isAlive(), false);
    assert.equal(Periodic.instances.size, 0);
    assert.throws(() => a.start(), { name: "TypeError", message: /killed/ });
  });

  await t.step("what a run left behind runs between runs", async () => {
    // A long period: the worker waits between runs, and with a blocking wait there, the timer
    // and the digest would never settle (the runs themselves never yield to the event loop).
    const queue = new EvictingQueue<string>();
    await using job = new Periodic((_thread: ThreadContext, q: EvictingQueue<string>) => {
      if ((globalThis as { ran?: boolean }).ran) return;
      (globalThis as { ran?: boolean }).ran = true;
      crypto.subtle.digest("SHA-256", new Uint8Array(8)).then(() => q.put("digest"));
      setTimeout(() => q.put("timer"), 5);
    }, { period: 60_000, start: true, args: [queue] });
    const seen = [
      await within(queue.getAsync(), 5000, "what the run left"),
      await within(queue.getAsync(), 5000, "what the run left"),
    ];
    assert.deepEqual(seen.toSorted(), ["digest", "timer"]);
    assert.equal(job.stats.count, 1);
  });

  await t.step("bad options", () => {
    assert.throws(() => new Periodic(() => 1, { period: 0 }), RangeError);
    assert.throws(() => new Periodic(() => 1, { period: -1 }), RangeError);
    assert.throws(() => new Periodic(() => 1, { period: 5, minWait: -1 }), RangeError);
    assert.throws(() => new Periodic(() => 1, {} as never), RangeError);
    assert.equal(Periodic.instances.size, 0);
  });
});

Deno.test("PollingMap ports fandango's ThreadDict", async (t) => {
  await t.step("the seed's reader and writer: values appear after the write", async () => {
    await using map = new PollingMap<string, string>({
      read: new URL(`${DEVICE.href}#reader`),
      write: new URL(`${DEVICE.href}#writer`),
      period: 10,
    });
    assert.equal(map.get("test"), undefined); // seed: td['test'] before append
    map.poll("test", 10); // seed: td.append('test', period=3.)
    assert.equal(map.has("test"), true);
    await waitFor(() => map.get("test") !== undefined);
    assert.match(map.get("test")!, /^\d{4}-\d\d-\d\dT[\d:.]+Z:Empty!$/); // timestamped reads
    const written = await map.set("test", "10"); // seed: td['test'] = 10
    assert.match(written as string, /Z:10$/);
    await waitFor(() => map.get("test")?.endsWith(":10") ?? false);
    assert.deepEqual([...map.keys()], ["test"]);
    assert.equal(map.size, 1);
  });

  await t.step("refresh, onUpdate, unpoll, entries", async () => {
    await using map = new PollingMap<string, number>({
      read: () => {
        const g = globalThis as { n?: number };
        g.n = (g.n ?? 0) + 1;
        return g.n;
      },
      period: 60_000,
    });
    const updates: [string, number][] = [];
    const off = map.onUpdate((key, value) => updates.push([key, value]));
    map.poll("k");
    await waitFor(() => map.get("k") === 1);
    assert.equal(await map.refresh("k"), 2);
    assert.equal(map.get("k"), 2);
    assert.deepEqual(updates, [["k", 1], ["k", 2]]);
    off();
    assert.equal(await map.refresh("unpolled"), 3);
    assert.equal(map.get("unpolled"), undefined);
    assert.deepEqual([...map.entries()], [["k", 2]]);
    assert.equal(map.unpoll("k"), true);
    assert.equal(map.unpoll("k"), false);
    assert.equal(map.get("k"), undefined);
  });

  await t.step("values expire", async () => {
    await using map = new PollingMap<string, number>({ read: () => 1, period: 60_000, expire: 30 });
    map.poll("k");
    await waitFor(() => map.get("k") === 1);
    await waitFor(() => map.get("k") === undefined, 2000);
    assert.equal(map.has("k"), true);
  });

  await t.step("errors: read failures to onError, set without write, closed map", async () => {
    const errors: [unknown, string][] = [];
    const map = new PollingMap<string, never>({
      read: new URL(`${DEVICE.href}#failing`),
      period: 10,
      onError: (error, key) => errors.push([error, key]),
    });
    map.poll("x");
    await waitFor(() => errors.length >= 1);
    assert.ok(errors[0]![0] instanceof RangeError);
    assert.equal(errors[0]![1], "x");
    await assert.rejects(map.refresh("y"), { name: "RangeError", message: "Cannot read y" });
    await assert.rejects(map.set("y", undefined as never), {
      name: "TypeError",
      message: /no write function/,
    });
    const pending = map.refresh("z");
    await map.close();
    await assert.rejects(pending, TypeError);
    assert.throws(() => map.poll("x"), { name: "TypeError", message: /closed/ });
    assert.throws(() => new PollingMap({ read: () => 1, period: 0 }), RangeError);
    assert.throws(() => new PollingMap({ read: 5 as never }), TypeError);
  });
});

Deno.test("terminate() ends workers blocked on a shared queue; the process exits", async () => {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      new URL("./testdata/terminate_blocked.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "inherit",
    signal: AbortSignal.timeout(30_000),
  }).output();
  assert.equal(code, 0);
  assert.equal(
    new TextDecoder().decode(stdout),
    "thread: WorkerCrashed\npool task: TimeoutError\ndone\n",
  );
});

Deno.test("StoppableThread closeOnExit and signal", async (t) => {
  await t.step("a producer that throws still closes its writer: the reader ends", async () => {
    const [writer, reader] = channel<number>({ size: 4 });
    const producer = new StoppableThread((_t, w: ChannelWriter<number>) => {
      w.write(1);
      w.write(2);
      throw new Error("producer failed");
    }, { args: [writer], closeOnExit: [writer] }).start();
    assert.deepEqual(await Array.fromAsync(reader), [1, 2]);
    await assert.rejects(producer.join(), /producer failed/);
  });

  await t.step("a target that returns stops its queue", async () => {
    const queue = new EvictingQueue<string>();
    const thread = new StoppableThread((_t, q: EvictingQueue<string>) => {
      q.put("last");
    }, { args: [queue], closeOnExit: [queue] }).start();
    await thread.join();
    assert.equal(queue.stopped(), true);
    assert.deepEqual(await Array.fromAsync(queue), ["last"]);
  });

  await t.step("a terminated thread closes them too", async () => {
    const [writer, reader] = channel<number>();
    const thread = new StoppableThread((_t, w: ChannelWriter<number>) => {
      w.write(7);
      while (true) { /* runaway */ }
    }, { args: [writer], closeOnExit: [writer] }).start();
    assert.deepEqual(reader.read(1), [7]);
    thread.terminate();
    await thread.join().catch(() => {});
    assert.deepEqual(await Array.fromAsync(reader), []);
  });

  await t.step("closeOnExit refuses what it cannot close", () => {
    assert.throws(
      () => new StoppableThread(() => 1, { closeOnExit: [{}] as never }),
      TypeError,
    );
  });

  await t.step("aborting the signal stops the thread", async () => {
    const controller = new AbortController();
    const thread = new StoppableThread((t) => t.wait(10_000), { signal: controller.signal })
      .start();
    controller.abort();
    assert.equal(await thread.join(), true);
    assert.equal(thread.stopped(), true);
  });

  await t.step("an already aborted signal: the thread starts stopped", async () => {
    const thread = new StoppableThread((t) => t.stopped(), { signal: AbortSignal.abort() })
      .start();
    assert.equal(await thread.join(), true);
  });
});

Deno.test("Periodic signal: abort stops it", async () => {
  const controller = new AbortController();
  const periodic = new Periodic(() => 1, { period: 5, start: true, signal: controller.signal });
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(periodic.started(), true);
  controller.abort();
  assert.equal(periodic.started(), false);
  await periodic.kill();
});

Deno.test("Periodic numeric options are validated", () => {
  for (const minWait of [-1, NaN, "3" as unknown as number, Infinity]) {
    assert.throws(
      () => new Periodic(() => 1, { period: 10, minWait, start: false }),
      RangeError,
      String(minWait),
    );
  }
});
