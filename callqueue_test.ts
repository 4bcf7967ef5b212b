import assert from "node:assert/strict";
import { CallItem, CallQueue, CallQueueClosed, QueueFull, QueueTimeout } from "./callqueue.ts";
import { StoppableThread, type ThreadContext } from "./thread.ts";
import { Event } from "./sync.ts";
import { EvictingQueue } from "./queue.ts";
import { Pool } from "./pool.ts";
import { within } from "./testdata/within.ts";

type Recipe = {
  snapshot: () => number[];
  exit: () => never;
};

Deno.test("CallQueue ports the recipe", async (t) => {
  await t.step("worker threads call into a busy main loop draining with receive()", async () => {
    const l: number[] = []; // filled by the busy loop
    const calls = new CallQueue<Recipe>({
      snapshot: () => l.slice(),
      exit: () => {
        throw new Error("SystemExit");
      },
    });
    const caller = (
      _thread: ThreadContext,
      calls: CallQueue<Recipe>,
      done: Event,
      last: boolean,
    ) => {
      const first = calls.call("snapshot"); // synchronous call
      const item = calls.call("snapshot", [], { wait: false }); // non-blocking call
      while (!item.done()) { /* the recipe prints "." here */ }
      const second = item.result();
      if (last) {
        done.wait(); // the other caller finished
        calls.call("exit", [], { raise: "receiver", altReturn: undefined as never }); // raises inside the busy loop
      } else {
        done.set();
      }
      return [first.length, second.length];
    };
    const done = new Event();
    const a = new StoppableThread(caller, { args: [calls, done, false] }).start();
    const b = new StoppableThread(caller, { args: [calls, done, true] }).start();
    let exited: unknown;
    try {
      for (;;) {
        calls.receive();
        l.push(Math.random());
      }
    } catch (error) {
      exited = error;
    }
    assert.equal((exited as Error).message, "SystemExit");
    const [[a1, a2], [b1, b2]] = await Promise.all([a.join(), b.join()]);
    assert.ok(a1! <= a2! && b1! <= b2!, "later snapshots hold at least as many numbers");
    assert.ok(l.length >= b2!);
  });

  await t.step("the collect scenario: a caller schedules jobs, then harvests them", async () => {
    const urls = ["/", "/about/gettingstarted", "/about/apps/", "/about/quotes"];
    const calls = new CallQueue({
      work: async (url: string) => {
        await new Promise((resolve) => setTimeout(resolve, 5 * url.length % 7));
        return url.length;
      },
    });
    const controller = new AbortController();
    const serving = calls.serve({ signal: controller.signal });
    const harvest = new StoppableThread(
      (_thread, calls: CallQueue<{ work: (url: string) => Promise<number> }>, urls: string[]) => {
        for (const url of urls) calls.callAndCollect("work", [url]); // schedule
        const harvested: [string, number][] = [];
        for (let item; (item = calls.getNextCollected(5000)) !== undefined;) {
          harvested.push([item.args[0] as string, item.result() as number]);
        }
        return harvested;
      },
      { args: [calls, urls] },
    ).start();
    const harvested: [string, number][] = await harvest.join();
    controller.abort();
    await serving;
    assert.deepEqual(
      harvested.sort(([a], [b]) => a.localeCompare(b)),
      urls.map((url): [string, number] => [url, url.length]).sort(([a], [b]) => a.localeCompare(b)),
    );
  });
});

Deno.test("CallQueue raise modes", async (t) => {
  const failing = () => {
    throw new RangeError("handler failed");
  };
  await t.step('"caller" (default): the caller gets the error; receive does not throw', () => {
    const calls = new CallQueue({ failing });
    const item = calls.call("failing", [], { wait: false });
    assert.equal(calls.receive(), 1);
    assert.throws(() => item.result(), { name: "RangeError", message: "handler failed" });
    assert.ok(item.error() instanceof RangeError);
  });

  await t.step('"receiver": receive throws; the caller gets altReturn', () => {
    const calls = new CallQueue({ failing, ok: () => "ok" });
    const item = calls.call("failing", [], { wait: false, raise: "receiver", altReturn: "alt" });
    const after = calls.call("ok", [], { wait: false });
    assert.throws(() => calls.receive(), RangeError);
    assert.equal(item.result(), "alt");
    assert.equal(after.done(), false); // left for the next receive
    assert.equal(calls.receive(), 1);
    assert.equal(after.result(), "ok");
  });

  await t.step('"both": both throw', () => {
    const calls = new CallQueue({ failing });
    const item = calls.call("failing", [], { wait: false, raise: "both" });
    assert.throws(() => calls.receive(), RangeError);
    assert.throws(() => item.result(), RangeError);
  });

  await t.step('"none": silent; the caller gets altReturn', () => {
    const calls = new CallQueue({ failing });
    const item = calls.call("failing", [], { wait: false, raise: "none", altReturn: 42 });
    assert.equal(calls.receive(), 1);
    assert.equal(item.result(), 42);
    assert.ok(item.error() instanceof RangeError);
  });

  await t.step("callAsync honours the modes too", async () => {
    const calls = new CallQueue({ failing });
    const controller = new AbortController();
    const serving = calls.serve({ signal: controller.signal });
    await assert.rejects(calls.callAsync("failing"), RangeError);
    assert.equal(await calls.callAsync("failing", [], { raise: "none", altReturn: 1 }), 1);
    controller.abort();
    await serving;
  });
});

Deno.test("CallQueue limits, timeouts and closing", async (t) => {
  await t.step("maxSize: QueueFull, nothing enqueued", () => {
    const calls = new CallQueue({ f: () => 1 }, { maxSize: 2 });
    calls.call("f", [], { wait: false });
    calls.call("f", [], { wait: false });
    assert.throws(() => calls.call("f", [], { wait: false }), QueueFull);
    assert.equal(calls.pending, 2);
    assert.equal(calls.receive(), 2);
  });

  await t.step("a timed-out call throws QueueTimeout and never runs", async () => {
    let ran = 0;
    const calls = new CallQueue({ count: () => ++ran });
    const thread = new StoppableThread((_thread, calls: CallQueue<{ count: () => number }>) => {
      try {
        calls.call("count", [], { timeout: 20 });
        return "no timeout";
      } catch (error) {
        return (error as Error).name;
      }
    }, { args: [calls] }).start();
    assert.equal(await thread.join(), "QueueTimeout");
    assert.equal(calls.receive(), 1); // taken, but abandoned: skipped
    assert.equal(ran, 0);
    await assert.rejects(
      calls.callAsync("count", [], { timeout: 10 }),
      QueueTimeout,
    );
    assert.equal(calls.receive(), 1);
    assert.equal(ran, 0);
  });

  await t.step("close while callers wait: they get CallQueueClosed, nobody hangs", async () => {
    const calls = new CallQueue({ f: () => 1 });
    const waiting = new Event();
    const callers = [1, 2].map(() =>
      new StoppableThread((_thread, calls: CallQueue<{ f: () => number }>, waiting: Event) => {
        waiting.set();
        try {
          return calls.call("f");
        } catch (error) {
          return (error as Error).name;
        }
      }, { args: [calls, waiting] }).start()
    );
    await waiting.waitAsync(5000);
    const late = assert.rejects(calls.callAsync("f"), CallQueueClosed);
    calls.close();
    assert.deepEqual(await Promise.all(callers.map((c) => c.join())), [
      "CallQueueClosed",
      "CallQueueClosed",
    ]);
    await late;
    assert.throws(() => calls.call("f", [], { wait: false }), CallQueueClosed);
    assert.equal(calls.closed, true);
    assert.equal(calls.receive(), 0);
  });

  await t.step("closeAndReceiveLast runs what was queued", () => {
    const calls = new CallQueue({ f: (x: number) => x * 2 });
    const items = [1, 2, 3].map((x) => calls.call("f", [x], { wait: false }));
    assert.equal(calls.closeAndReceiveLast(), 3);
    assert.deepEqual(items.map((item) => item.result()), [2, 4, 6]);
    assert.throws(() => calls.call("f", [1], { wait: false }), CallQueueClosed);
  });

  await t.step("abort of callAsync", async () => {
    const calls = new CallQueue({ f: () => 1 });
    const controller = new AbortController();
    const pending = calls.callAsync("f", [], { signal: controller.signal });
    controller.abort(new RangeError("gave up"));
    await assert.rejects(pending, { name: "RangeError", message: "gave up" });
    assert.equal(calls.receive(), 1); // skipped: abandoned
  });
});

Deno.test("CallQueue values and bad input", async (t) => {
  await t.step("async handlers, large results, complex values", async () => {
    const calls = new CallQueue({
      later: async (x: number) => {
        await Promise.resolve();
        return x + 1;
      },
      big: (n: number) => "x".repeat(n),
      echo: (value: unknown) => value,
    });
    const controller = new AbortController();
    const serving = calls.serve({ signal: controller.signal });
    assert.equal(await calls.callAsync("later", [1]), 2);
    assert.equal((await calls.callAsync("big", [100_000])).length, 100_000);
    const value = { when: new Date(5), tags: new Set(["a"]), n: 10n };
    assert.deepEqual(await calls.callAsync("echo", [value]), value);
    controller.abort();
    await serving;
  });

  await t.step("few slots: callers wait for one and harvest their own", async () => {
    const calls = new CallQueue({ f: (x: number) => x }, { slots: 2 });
    const controller = new AbortController();
    const serving = calls.serve({ signal: controller.signal });
    const thread = new StoppableThread(
      (_thread, calls: CallQueue<{ f: (x: number) => number }>) => {
        const items = Array.from({ length: 10 }, (_, i) => calls.callAndCollect("f", [i]));
        return items.map((item) => item.result());
      },
      { args: [calls] },
    ).start();
    assert.deepEqual(await thread.join(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    controller.abort();
    await serving;
  });

  await t.step("one slot, two callers contending: no slot is lost", async () => {
    const calls = new CallQueue({ f: (x: number) => x }, { slots: 1 });
    const controller = new AbortController();
    const serving = calls.serve({ signal: controller.signal });
    const caller = (_thread: ThreadContext, calls: CallQueue<{ f: (x: number) => number }>) => {
      let sum = 0;
      for (let i = 0; i < 300; i++) sum += calls.call("f", [i], { timeout: 5000 });
      return sum;
    };
    const threads = [0, 1].map(() => new StoppableThread(caller, { args: [calls] }).start());
    assert.deepEqual(await Promise.all(threads.map((t) => t.join())), [44850, 44850]);
    controller.abort();
    await serving;
  });

  await t.step("shared objects in call arguments arrive as the same objects", async () => {
    type Handlers = {
      fill: (queue: EvictingQueue<number>, count: number) => number;
      flag: (event: Event) => boolean;
    };
    const calls = new CallQueue<Handlers>({
      fill: (queue, count) => {
        for (let i = 0; i < count; i++) queue.put(i);
        return queue.length;
      },
      flag: (event) => {
        event.set();
        return event.isSet();
      },
    });
    const controller = new AbortController();
    const serving = calls.serve({ signal: controller.signal });
    // The thread got a queue and events as its own arguments, and passes them on in calls.
    const thread = new StoppableThread((
      _thread,
      calls: CallQueue<Handlers>,
      queue: EvictingQueue<number>,
      events: Event[],
    ) => {
      const filled = calls.call("fill", [queue, 3]); // blocking
      const flagged = events.map((event) => calls.call("flag", [event], { wait: false }));
      return [filled, queue.flush(), flagged.map((item) => item.result(5000)), events[0]!.isSet()];
    }, {
      args: [calls, new EvictingQueue<number>(), Array.from({ length: 20 }, () => new Event())],
    }).start();
    assert.deepEqual(await thread.join(), [3, [0, 1, 2], Array(20).fill(true), true]);
    // From a pool task.
    {
      await using pool = new Pool({ size: 1 });
      const event = new Event();
      const viaPool = (calls: CallQueue<Handlers>, event: Event) => calls.call("flag", [event]);
      assert.equal(await pool.run(viaPool, [calls, event]), true);
      assert.equal(event.isSet(), true);
    }
    // From the owner's own thread, asynchronously.
    const event = new Event();
    assert.equal(await calls.callAsync("flag", [event]), true);
    assert.equal(event.isSet(), true);
    controller.abort();
    await serving;
  });

  await t.step(
    "a call waiting for its shared arguments is refused when the queue closes",
    async () => {
      const calls = new CallQueue({ flag: (event: Event) => event.set() });
      const pending = calls.callAsync("flag", [new Event()]);
      calls.closeAndReceiveLast(); // takes the call; its arguments would come on a later turn
      await assert.rejects(pending, CallQueueClosed);
    },
  );

  await t.step("clear errors", () => {
    const calls = new CallQueue({ f: (_x: unknown) => 1 });
    assert.throws(() => calls.call("nope" as "f", [1], { wait: false }), {
      name: "TypeError",
      message: /no handler of that name: it has f/,
    });
    assert.throws(() => calls.call("f", [{ g: () => 1 }], { wait: false }), {
      name: "TypeError",
      message: /args\[0\]\.g/,
    });
    // Shared objects reach the owner by message only from its own thread or the threads it
    // started: elsewhere they are refused clearly, and nothing is enqueued.
    const elsewhere = CallQueue.from<{ f: (_x: unknown) => number }>({
      ...calls.handle,
      owner: "a thread this one cannot message",
    });
    assert.throws(() => elsewhere.call("f", [new Event()], { wait: false }), {
      name: "TypeError",
      message: /neither this thread nor the one that started it/,
    });
    assert.equal(calls.pending, 0);
    assert.throws(() => calls.call("f", [1]), { name: "TypeError", message: /owner's thread/ });
    assert.throws(() => calls.call("f", [1], { wait: false, raise: "x" as never }), TypeError);
    assert.throws(() => calls.call("f", [1], { wait: false, timeout: -1 }), RangeError);
    assert.throws(() => new CallQueue({ f: 1 } as never), TypeError);
    assert.throws(() => new CallQueue({}, { maxSize: 0 }), RangeError);
    assert.throws(() => new CallQueue({}, { slots: 0 }), RangeError);
    const caller = CallQueue.from(calls.handle);
    assert.throws(() => caller.receive(), { name: "TypeError", message: /only its owner/ });
    assert.throws(() => CallQueue.from({} as never), TypeError);
    assert.ok(calls.call("f", [1], { wait: false }) instanceof CallItem);
  });
});

type Counter = { inc: () => number };

/** Serves `calls` while another thread calls it: the one slot a killed caller held is free. */
async function assertSlotFree(calls: CallQueue<Counter>): Promise<void> {
  const controller = new AbortController();
  const serving = calls.serve({ signal: controller.signal });
  const other = new StoppableThread(
    (_t, q: CallQueue<Counter>) => q.call("inc", [], { timeout: 3000 }),
    { args: [calls] },
  ).start();
  assert.ok(await other.join() >= 1);
  controller.abort();
  await serving;
}

Deno.test("CallQueue calls that are never collected hold nothing", async (t) => {
  await t.step("1000 fire-and-forget calls, then a blocking call from another thread", async () => {
    let count = 0;
    const calls = new CallQueue<Counter>({ inc: () => ++count });
    const controller = new AbortController();
    const serving = calls.serve({ signal: controller.signal });
    const sender = new StoppableThread((_t, q: CallQueue<Counter>) => {
      for (let i = 0; i < 1000; i++) q.call("inc", [], { wait: false }); // items dropped
      return "sent";
    }, { args: [calls] }).start();
    assert.equal(await within(sender.join(), 20_000, "the sender"), "sent");
    const other = new StoppableThread(
      (_t, q: CallQueue<Counter>) => q.call("inc", [], { timeout: 5000 }),
      { args: [calls] },
    ).start();
    assert.equal(await other.join(), 1001);
    controller.abort();
    await serving;
  });

  await t.step("a live caller's dropped items free their slots in the background", async () => {
    let count = 0;
    const calls = new CallQueue<Counter>({ inc: () => ++count }, { slots: 4 });
    const controller = new AbortController();
    const serving = calls.serve({ signal: controller.signal });
    const caller = CallQueue.from<Counter>(calls.handle); // a caller on this (idle) thread
    for (let i = 0; i < 4; i++) caller.call("inc", [], { wait: false }); // all 4 slots, dropped
    const other = new StoppableThread(
      (_t, q: CallQueue<Counter>) => q.call("inc", [], { timeout: 3000 }),
      { args: [calls] },
    ).start();
    assert.equal(await other.join(), 5);
    controller.abort();
    await serving;
  });

  await t.step("a thread that ends with calls outstanding leaves their slots", async () => {
    let count = 0;
    const calls = new CallQueue<Counter>({ inc: () => ++count }, { slots: 2 });
    const leaver = new StoppableThread((_t, q: CallQueue<Counter>) => {
      q.call("inc", [], { wait: false });
      q.call("inc", [], { wait: false });
    }, { args: [calls] }).start();
    await leaver.join();
    const controller = new AbortController();
    const serving = calls.serve({ signal: controller.signal });
    const other = new StoppableThread(
      (
        _t,
        q: CallQueue<Counter>,
      ) => [q.call("inc", [], { timeout: 3000 }), q.call("inc", [], { timeout: 3000 })],
      { args: [calls] },
    ).start();
    assert.deepEqual(await other.join(), [3, 4]);
    controller.abort();
    await serving;
  });

  await t.step("a caller terminated while it waits for its result leaves its slot", async () => {
    let count = 0;
    const calls = new CallQueue<Counter>({ inc: () => ++count }, { slots: 1 });
    const calling = new Event();
    const victim = new StoppableThread((_t, q: CallQueue<Counter>, e: Event) => {
      e.set();
      return q.call("inc"); // the owner is not serving yet: blocks
    }, { args: [calls, calling] }).start();
    await calling.waitAsync();
    await new Promise((resolve) => setTimeout(resolve, 20)); // let it block on its slot
    victim.terminate();
    await victim.join().catch(() => {});
    await assertSlotFree(calls);
  });

  await t.step(
    "a caller terminated while it awaits something else gives its slot back",
    async () => {
      let count = 0;
      const calls = new CallQueue<Counter>({ inc: () => ++count }, { slots: 1 });
      const calling = new Event();
      const victim = new StoppableThread(async (_t, q: CallQueue<Counter>, e: Event) => {
        // Takes the only slot, never collected; the owner is not serving yet.
        q.callAsync("inc").catch(() => {}); // rejects once the thread is killed
        e.set();
        await new Promise(() => {}); // not a theta wait: nothing unwinds it when it is killed
      }, { args: [calls, calling] }).start();
      await calling.waitAsync();
      victim.terminate(); // its event loop is idle: it is told to give back before it is ended
      await victim.join().catch(() => {});
      await assertSlotFree(calls);
    },
  );
});

Deno.test("CallQueue closeAndReceiveLast answers every caller when a handler throws", async () => {
  const calls = new CallQueue({
    boom: (): number => {
      throw new Error("boom");
    },
    ok: (): string => "fine",
  });
  type H = { boom: () => number; ok: () => string };
  const a = new StoppableThread(
    (_t, q: CallQueue<H>) => q.call("boom", [], { raise: "receiver", altReturn: -1 }),
    { args: [calls] },
  ).start();
  const b = new StoppableThread((_t, q: CallQueue<H>) => q.call("ok"), { args: [calls] }).start();
  const c = new StoppableThread((_t, q: CallQueue<H>) => q.call("ok"), { args: [calls] }).start();
  while (calls.pending < 3) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.throws(() => calls.closeAndReceiveLast(), /boom/);
  assert.equal(calls.closed, true);
  const results = await within(Promise.all([a.join(), b.join(), c.join()]), 10_000, "the callers");
  assert.deepEqual(results, [-1, "fine", "fine"]);
});

Deno.test("CallQueue numeric options are validated, 64-bit sizes included", () => {
  for (const maxSize of [0, -1, 1.5, NaN, 1e12, "3" as unknown as number]) {
    assert.throws(
      () => new CallQueue({ f: () => 1 }, { maxSize }),
      (error: unknown) =>
        error instanceof RangeError && /maxSize.*current value is/.test(error.message),
      String(maxSize),
    );
  }
});
