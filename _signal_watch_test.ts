// Tests of SignalWatch: one abort listener per signal, whatever the number of items.
import assert from "node:assert/strict";
import { SignalWatch } from "./_signal_watch.ts";
import { countListeners } from "./testdata/listener_count.ts";

Deno.test("SignalWatch", async (t) => {
  await t.step("an abort reaches every watching item once, in order", () => {
    const seen: [string[], unknown][] = [];
    const watch = new SignalWatch<string>((items, reason) => seen.push([[...items], reason]));
    const controller = new AbortController();
    for (const item of ["a", "b", "c"]) watch.watch(controller.signal, item);
    watch.unwatch(controller.signal, "b");
    watch.unwatch(controller.signal, "z"); // never watched: nothing happens
    controller.abort("why");
    controller.abort("again"); // a signal aborts once
    assert.deepEqual(seen, [[["a", "c"], "why"]]);
  });

  await t.step("the listener goes with the last item, and comes back with the next", () => {
    const controller = new AbortController();
    const signal = controller.signal;
    const listeners = countListeners(signal);
    const aborted: number[] = [];
    const watch = new SignalWatch<number>((items) => aborted.push(...items));
    watch.watch(signal, 1);
    watch.watch(signal, 2);
    assert.equal(listeners.live, 1);
    watch.unwatch(signal, 1);
    watch.unwatch(signal, 2);
    assert.equal(listeners.live, 0);
    watch.watch(signal, 3);
    assert.equal(listeners.live, 1);
    controller.abort();
    assert.deepEqual(aborted, [3]);
  });

  await t.step("signals are watched apart", () => {
    const aborted: string[] = [];
    const watch = new SignalWatch<string>((items) => aborted.push(...items));
    const one = new AbortController();
    const two = new AbortController();
    watch.watch(one.signal, "one");
    watch.watch(two.signal, "two");
    two.abort();
    assert.deepEqual(aborted, ["two"]);
    watch.unwatch(one.signal, "one");
    one.abort();
    assert.deepEqual(aborted, ["two"]);
  });
});
