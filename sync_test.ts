import assert from "node:assert/strict";
import { Event, Lock, Semaphore } from "./sync.ts";
import { Pool } from "./pool.ts";
import { StoppableThread } from "./thread.ts";
import type { SyncJob } from "./testdata/sync_worker.ts";

const WORKER_URL = new URL("./testdata/sync_worker.ts", import.meta.url);

function runWorker(
  job: SyncJob,
  until: (data: Record<string, unknown>) => boolean = () => true,
): Promise<Record<string, unknown>> {
  const worker = new Worker(WORKER_URL, { type: "module" });
  return new Promise<Record<string, unknown>>((resolve, reject) => {
    worker.onmessage = (event) => {
      if (!until(event.data)) return;
      worker.terminate();
      resolve(event.data);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      reject(new Error(event.message));
    };
    worker.postMessage(job);
  });
}

Deno.test("Event", async (t) => {
  await t.step("set, clear, isSet and wait", () => {
    const event = new Event();
    assert.equal(event.isSet(), false);
    assert.equal(event.wait(5), false);
    assert.equal(event.wait(0), false);
    event.set();
    assert.equal(event.isSet(), true);
    assert.equal(event.wait(), true);
    event.clear();
    assert.equal(event.isSet(), false);
  });

  await t.step("waitAsync resolves on set, times out, and aborts", async () => {
    const event = new Event();
    const pending = event.waitAsync();
    event.set();
    assert.equal(await pending, true);
    event.clear();
    assert.equal(await event.waitAsync({ timeout: 10 }), false);
    assert.equal(await event.waitAsync(10), false);
    const controller = new AbortController();
    const aborted = event.waitAsync({ signal: controller.signal });
    controller.abort(new Error("cancelled"));
    await assert.rejects(aborted, /cancelled/);
  });

  await t.step("a handle revives the same flag", () => {
    const event = new Event();
    Event.from(structuredClone(event.handle)).set();
    assert.ok(event.isSet());
    assert.throws(() => Event.from({ kind: "Lock" } as never), TypeError);
  });

  await t.step("set wakes a waiter in a worker", async () => {
    const event = new Event();
    const result = runWorker({ op: "waitEvent", event: event.handle }, (d) => "result" in d);
    event.set();
    assert.deepEqual(await result, { result: true });
  });

  await t.step("a worker's wait times out when nobody sets", async () => {
    const event = new Event();
    const result = await runWorker(
      { op: "waitEvent", event: event.handle, timeout: 20 },
      (d) => "result" in d,
    );
    assert.deepEqual(result, { result: false });
  });

  await t.step("bad timeouts", async () => {
    assert.throws(() => new Event().wait(-1), RangeError);
    await assert.rejects(new Event().waitAsync({ timeout: NaN }), RangeError);
  });
});

Deno.test("Lock", async (t) => {
  await t.step("acquire, release, timeouts", () => {
    const lock = new Lock();
    assert.equal(lock.locked, false);
    assert.equal(lock.acquire(), true);
    assert.equal(lock.locked, true);
    assert.equal(lock.acquire(0), false);
    const started = performance.now();
    assert.equal(lock.acquire(20), false);
    assert.ok(performance.now() - started >= 15);
    lock.release();
    assert.equal(lock.locked, false);
    assert.throws(() => lock.release(), /not held/);
  });

  await t.step("hold releases at the end of a using block, even on throw", () => {
    const lock = new Lock();
    assert.throws(() => {
      using _held = lock.hold();
      assert.equal(lock.locked, true);
      throw new Error("inside");
    }, /inside/);
    assert.equal(lock.locked, false);
  });

  await t.step("acquireAsync waits for release and honours timeout and abort", async () => {
    const lock = new Lock();
    lock.acquire();
    const waiting = lock.acquireAsync();
    setTimeout(() => lock.release(), 5);
    assert.equal(await waiting, true);
    assert.equal(await lock.acquireAsync({ timeout: 10 }), false);
    await assert.rejects(lock.acquireAsync({ signal: AbortSignal.abort() }), {
      name: "AbortError",
    });
    lock.release();
  });

  await t.step("two workers incrementing under the lock lose no update", async () => {
    const lock = new Lock();
    const counter = new SharedArrayBuffer(4);
    const times = 20_000;
    await Promise.all([
      runWorker({ op: "increment", lock: lock.handle, counter, times }),
      runWorker({ op: "increment", lock: lock.handle, counter, times }),
    ]);
    assert.equal(new Int32Array(counter)[0], 2 * times);
    assert.equal(lock.locked, false);
  });
});

Deno.test("Semaphore", async (t) => {
  await t.step("permits are counted", () => {
    const semaphore = new Semaphore(2);
    assert.equal(semaphore.value, 2);
    assert.ok(semaphore.acquire());
    assert.ok(semaphore.acquire(0));
    assert.equal(semaphore.acquire(0), false);
    assert.equal(semaphore.acquire(10), false);
    semaphore.release(2);
    assert.equal(semaphore.value, 2);
    {
      using _permit = semaphore.hold();
      assert.equal(semaphore.value, 1);
    }
    assert.equal(semaphore.value, 2);
  });

  await t.step("acquireAsync waits for a release", async () => {
    const semaphore = new Semaphore(0);
    const waiting = semaphore.acquireAsync({ timeout: 5000 });
    semaphore.release();
    assert.equal(await waiting, true);
    assert.equal(await semaphore.acquireAsync(5), false);
  });

  await t.step("bad arguments", () => {
    for (const permits of [-1, 1.5, NaN]) {
      assert.throws(() => new Semaphore(permits), RangeError);
    }
    assert.throws(() => new Semaphore(1).release(0), RangeError);
    assert.throws(() => new Semaphore(1).acquire(-1), RangeError);
    assert.throws(() => Semaphore.from({ kind: "Event" } as never), TypeError);
  });

  await t.step("never more holders than permits across workers", async () => {
    const semaphore = new Semaphore(2);
    const inside = new SharedArrayBuffer(4);
    const job = { op: "holdPermit", semaphore: semaphore.handle, inside, times: 5000 } as const;
    const results = await Promise.all([runWorker(job), runWorker(job), runWorker(job)]);
    for (const { most } of results) assert.ok((most as number) <= 2, `saw ${most} holders`);
    assert.equal(semaphore.value, 2);
  });
});

Deno.test("Event wakes waiters set at any moment while they wait", async (t) => {
  await t.step(
    "set then clear at once: 3 waiters in workers and 1 on main all return true",
    async () => {
      const { Pool } = await import("./pool.ts");
      await using pool = new Pool({ size: 3 });
      const event = new Event();
      const entered = new Int32Array(new SharedArrayBuffer(4));
      const waiters = [0, 1, 2].map(() =>
        pool.run((e: Event, count: Int32Array) => {
          Atomics.add(count, 0, 1);
          return e.wait(2000);
        }, [event, entered])
      );
      const onMain = event.waitAsync(2000);
      while (Atomics.load(entered, 0) < 3) await new Promise((resolve) => setTimeout(resolve, 5));
      // From the count to the futex wait is a few instructions: give the workers time to sleep.
      await new Promise((resolve) => setTimeout(resolve, 50));
      event.set();
      event.clear();
      assert.deepEqual(await Promise.all(waiters), [true, true, true]);
      assert.equal(await onMain, true);
      assert.equal(event.isSet(), false);
    },
  );

  await t.step("a set and clear before the wait began do not count", async () => {
    const event = new Event();
    event.set();
    event.clear();
    assert.equal(event.wait(5), false);
    assert.equal(await event.waitAsync(5), false);
  });
});

/**
 * Runs a task that takes each of `shared` (a Lock's `acquire`, a Semaphore's `hold`), with no
 * `finally`, and never returns; resolves once it holds them, with a way to abort it.
 */
async function holdForever(
  pool: Pool,
  ...shared: (Lock | Semaphore)[]
): Promise<{ task: Promise<unknown>; abort(): void }> {
  const held = new Event();
  const controller = new AbortController();
  const task = pool.run(
    async (h: Event, ...all: (Lock | Semaphore)[]) => {
      for (const s of all) {
        if ("locked" in s) s.acquire();
        else s.hold();
      }
      h.set();
      await new Promise(() => {});
    },
    [held, ...shared],
    { signal: controller.signal },
  );
  await held.waitAsync();
  return { task, abort: () => controller.abort(new Error("stop")) };
}

Deno.test("a Lock or a Semaphore hold survives its holder being killed", async (t) => {
  await using pool = new Pool({ size: 1 });

  await t.step(
    "a task aborted while it awaits, holding the lock: the lock is free again",
    async () => {
      const lock = new Lock();
      const holder = await holdForever(pool, lock);
      holder.abort();
      await assert.rejects(holder.task, /stop/);
      assert.equal(await lock.acquireAsync(3000), true, "the dead holder's lock is released");
      lock.release();
    },
  );

  await t.step(
    "a task timed out while it blocks in a wait, holding the lock: the same",
    async () => {
      const lock = new Lock();
      const never = new Event();
      const task = pool.run(
        (l: Lock, n: Event) => {
          l.acquire();
          n.wait();
        },
        [lock, never],
        { timeout: 100 },
      );
      await assert.rejects(task, (e: DOMException) => e.name === "TimeoutError");
      assert.equal(await lock.acquireAsync(3000), true);
      lock.release();
    },
  );

  await t.step("a semaphore permit taken with hold() comes back", async () => {
    const slots = new Semaphore(2);
    const holder = await holdForever(pool, slots);
    assert.equal(slots.value, 1);
    holder.abort();
    await assert.rejects(holder.task);
    const deadline = Date.now() + 3000;
    while (slots.value < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(slots.value, 2);
  });

  await t.step(
    "a lock released by another thread is not released again by the dead one",
    async () => {
      const lock = new Lock();
      const control = new Lock(); // given back in the same step as `lock` would be
      const holder = await holdForever(pool, lock, control);
      lock.release(); // any thread may release a Lock
      assert.equal(lock.acquire(0), true); // now this thread holds it
      holder.abort();
      await assert.rejects(holder.task);
      assert.equal(await control.acquireAsync(3000), true, "the dead holder gave back its locks");
      assert.equal(lock.acquire(0), false, "still held by this thread");
      lock.release();
    },
  );
});

Deno.test("a StoppableThread terminated while holding a lock releases it", async () => {
  const lock = new Lock();
  const held = new Event();
  const thread = new StoppableThread(async (_ctx, l: Lock, h: Event) => {
    l.acquire();
    h.set();
    await new Promise(() => {});
  }, { args: [lock, held] });
  thread.start();
  await held.waitAsync();
  thread.terminate();
  assert.equal(await lock.acquireAsync(3000), true);
  lock.release();
  await thread.join().catch(() => {});
});
