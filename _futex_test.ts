// Tests of the wait/notify helpers and the futex lock.
import assert from "node:assert/strict";
import { countListeners } from "./testdata/listener_count.ts";
import {
  ABORTABLE_WAIT_MS,
  checkTimeout,
  lock,
  pollFor,
  Termination,
  tryLock,
  unlock,
  waitAsync,
  waitSync,
} from "./_futex.ts";

Deno.test("checkTimeout accepts ms and refuses the rest", () => {
  for (const ok of [undefined, 0, 1.5, Infinity]) checkTimeout(ok);
  for (const bad of [-1, NaN, "5" as unknown as number]) {
    assert.throws(() => checkTimeout(bad, "timeout"), RangeError);
  }
});

Deno.test("waitSync reports how it ended", () => {
  const word = new Int32Array(new SharedArrayBuffer(4));
  assert.equal(waitSync(word, 0, 1, 10), "not-equal");
  assert.equal(waitSync(word, 0, 0, 5), "timed-out");
});

Deno.test("waitSync throws once this thread's kill word is set, before and after sleeping", () => {
  const kill = new Int32Array(new SharedArrayBuffer(4));
  const word = new Int32Array(new SharedArrayBuffer(4));
  const before = Termination.word;
  Termination.word = kill;
  try {
    assert.equal(waitSync(word, 0, 0, 1), "timed-out");
    Atomics.store(kill, 0, 1);
    assert.throws(() => waitSync(word, 0, 0, 1), /terminated/);
  } finally {
    Termination.word = before;
  }
});

Deno.test("waitAsync", async (t) => {
  await t.step("is woken by a notify", async () => {
    const word = new Int32Array(new SharedArrayBuffer(4));
    const waiting = waitAsync(word, 0, 0, 5000);
    setTimeout(() => {
      Atomics.store(word, 0, 1);
      Atomics.notify(word, 0);
    }, 5);
    assert.equal(await waiting, "ok");
  });

  await t.step("times out", async () => {
    const word = new Int32Array(new SharedArrayBuffer(4));
    assert.equal(await waitAsync(word, 0, 0, 5), "timed-out");
  });

  await t.step("rejects with the signal's reason, already aborted or later", async () => {
    const word = new Int32Array(new SharedArrayBuffer(4));
    await assert.rejects(
      waitAsync(word, 0, 0, 5000, AbortSignal.abort(new Error("early"))),
      /early/,
    );
    const controller = new AbortController();
    const waiting = waitAsync(word, 0, 0, Infinity, controller.signal);
    controller.abort(new Error("late"));
    await assert.rejects(waiting, /late/);
  });

  await t.step("many waits under one signal share one abort listener", async () => {
    // A listener per wait made thousands of waits under one signal quadratic (an EventTarget
    // removes a listener by scanning its list).
    const word = new Int32Array(new SharedArrayBuffer(4));
    const controller = new AbortController();
    const signal = controller.signal;
    const listeners = countListeners(signal);
    const woken = Array.from({ length: 50 }, () => waitAsync(word, 0, 0, Infinity, signal));
    Atomics.store(word, 0, 1);
    Atomics.notify(word, 0);
    assert.deepEqual(await Promise.all(woken), Array(50).fill("ok"));
    assert.equal(listeners.live, 0); // the listener went with the last wait
    Atomics.store(word, 0, 0);
    const aborted = Array.from({ length: 50 }, () => waitAsync(word, 0, 0, Infinity, signal));
    controller.abort(new Error("all of them"));
    for (const wait of aborted) await assert.rejects(wait, /all of them/);
    assert.equal(listeners.most, 1);
  });

  await t.step("an aborted wait wakes no other waiter", async () => {
    // Waking every waiter on the word made N waiters aborted one at a time quadratic: 1000
    // channel writers, each with its own signal, aborted one per event-loop turn took 12 s.
    const word = new Int32Array(new SharedArrayBuffer(4));
    const controller = new AbortController();
    const aborted = waitAsync(word, 0, 0, Infinity, controller.signal);
    const other = waitAsync(word, 0, 0, 50);
    controller.abort(new Error("only me"));
    await assert.rejects(aborted, /only me/);
    assert.equal(await other, "timed-out");
  });

  await t.step("an aborted wait's registration ends within ABORTABLE_WAIT_MS", async () => {
    // V8 keeps an aborted wait registered until it is notified or times out: on a word nobody
    // notifies again, aborted waits would pile up for good.
    const word = new Int32Array(new SharedArrayBuffer(4));
    const controller = new AbortController();
    const aborted = waitAsync(word, 0, 0, Infinity, controller.signal);
    controller.abort(new Error("stop"));
    await assert.rejects(aborted, /stop/);
    await new Promise((resolve) => setTimeout(resolve, ABORTABLE_WAIT_MS + 100));
    assert.equal(Atomics.notify(word, 0), 0); // nothing left registered on the word
  });

  await t.step(
    "a wait under a signal outlasts ABORTABLE_WAIT_MS: woken, or timed out",
    async () => {
      const word = new Int32Array(new SharedArrayBuffer(8));
      const signal = new AbortController().signal;
      const waiting = waitAsync(word, 0, 0, Infinity, signal);
      const started = performance.now();
      const timing = waitAsync(word, 1, 0, ABORTABLE_WAIT_MS + 200, signal);
      let woken = false;
      setTimeout(() => {
        woken = true;
        Atomics.store(word, 0, 1);
        Atomics.notify(word, 0);
      }, ABORTABLE_WAIT_MS + 100);
      assert.equal(await waiting, "ok");
      assert.ok(woken);
      assert.equal(await timing, "timed-out");
      assert.ok(performance.now() - started >= ABORTABLE_WAIT_MS + 200);
    },
  );

  await t.step("a wake-up an aborted wait absorbs is handed to the next waiter", async () => {
    // V8 keeps an aborted wait registered until it is woken. A counted notify that lands on it
    // (in arrival order) must reach a waiter still waiting.
    const word = new Int32Array(new SharedArrayBuffer(4));
    const controller = new AbortController();
    const aborted = waitAsync(word, 0, 0, Infinity, controller.signal);
    const other = waitAsync(word, 0, 0, 5000);
    controller.abort(new Error("gone"));
    await assert.rejects(aborted, /gone/);
    Atomics.notify(word, 0, 1); // the aborted wait is first in line
    assert.equal(await other, "ok");
  });
});

Deno.test("the futex lock", async (t) => {
  await t.step("tryLock, lock with a timeout, unlock", () => {
    const word = new Int32Array(new SharedArrayBuffer(4));
    assert.equal(tryLock(word, 0), true);
    assert.equal(tryLock(word, 0), false);
    assert.equal(lock(word, 0, 5), false);
    unlock(word, 0);
    assert.equal(Atomics.load(word, 0), 0);
    assert.equal(lock(word, 0, 5), true);
    unlock(word, 0);
  });
});

Deno.test("pollFor", () => {
  let calls = 0;
  assert.equal(pollFor(() => ++calls === 3), true);
  assert.equal(pollFor(() => false, 0.01), false);
});
