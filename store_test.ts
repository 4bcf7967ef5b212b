import assert from "node:assert/strict";
import { KeyError, Store, type StoreKey } from "./store.ts";
import { LocalExecutor, Pool } from "./pool.ts";

Deno.test("Store ports the theta seed", async (t) => {
  await t.step("q ends [0, 1, 2, 3, 4] and d ends { value: 5 }", async () => {
    const store = new Store(new LocalExecutor());
    const q: number[] = [];
    const d = { value: null as number | null };
    const qId = store.addCallback("data", (value: number) => q.push(value));
    store.addCallback("data", (value: number) => (d.value = value));
    const writer = store.writer("data");
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 5; i++) {
      const futures = writer.write(i);
      assert.equal(futures.length, 2);
      pending.push(...futures);
    }
    store.removeCallback(qId);
    const last = writer.write(5);
    assert.equal(last.length, 1); // 5 was only sent to the unnamed callback
    await Promise.all([...pending, ...last]);
    assert.deepEqual(q, [0, 1, 2, 3, 4]);
    assert.deepEqual(d, { value: 5 });
  });
});

Deno.test("Store semantics", async (t) => {
  await t.step("write resolves with each callback's return value", async () => {
    const store = new Store();
    store.addCallback("k", (value: number) => value * 2);
    store.addCallback("k", async (value: number) => {
      await Promise.resolve();
      return `${value}`;
    });
    assert.deepEqual(await Promise.all(store.writer("k").write(21)), [42, "21"]);
    assert.deepEqual(store.writer("other").write(1), []);
  });

  await t.step("keys compare by value; bad keys are refused", () => {
    const store = new Store();
    const seen: StoreKey[] = [];
    store.addCallback(["a", 1], (value: StoreKey) => seen.push(value));
    store.writer(["a", 1]).write("x");
    assert.equal(store.get(["a", 1]), "x");
    assert.equal(store.get(["a", "1"]), undefined); // 1 and "1" differ
    assert.equal(store.get("a,1"), undefined);
    store.writer(0).write("zero");
    assert.equal(store.get(-0), "zero");
    store.writer(1n).write("big");
    assert.equal(store.get(1n), "big");
    assert.equal(store.get(1), undefined);
    assert.throws(() => store.writer({} as never), { name: "TypeError", message: /store key/ });
    assert.throws(() => store.get([{}] as never), { name: "TypeError", message: /key\[0\]/ });
    assert.throws(() => store.addCallback(Symbol() as never, () => {}), TypeError);
    assert.throws(() => store.addCallback("k", 5 as never), TypeError);
  });

  await t.step("a throwing callback goes to onError and resolves undefined", async () => {
    const errors: [unknown, StoreKey, string][] = [];
    const store = new Store(undefined, { onError: (...args) => errors.push(args) });
    const id = store.addCallback("k", () => {
      throw new RangeError("boom");
    });
    store.addCallback("k", () => "fine");
    assert.deepEqual(await Promise.all(store.writer("k").write(1)), [undefined, "fine"]);
    assert.equal(errors.length, 1);
    assert.ok(errors[0]![0] instanceof RangeError);
    assert.deepEqual(errors[0]!.slice(1), ["k", id]);
  });

  await t.step("removeCallback of an unknown id throws KeyError", () => {
    const store = new Store();
    const id = store.addCallback("k", () => {});
    store.removeCallback(id);
    assert.throws(() => store.removeCallback(id), KeyError);
    assert.throws(() => store.removeCallback("nope"), { name: "KeyError", message: /nope/ });
  });

  await t.step(
    "each callback sees its key's writes in order on a concurrent executor",
    async () => {
      const store = new Store(new LocalExecutor({ concurrency: 8 }));
      const seen: number[] = [];
      store.addCallback("k", async (value: number) => {
        // Later writes finish their own wait sooner: only the store's ordering keeps them in line.
        await new Promise((resolve) => setTimeout(resolve, 10 - value));
        seen.push(value);
      });
      const writer = store.writer("k");
      await Promise.all(Array.from({ length: 10 }, (_, i) => writer.write(i)).flat());
      assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    },
  );

  await t.step("bad executor", () => {
    assert.throws(() => new Store({} as never), TypeError);
  });
});

Deno.test("Store with a Pool runs callbacks in workers", async (t) => {
  await using pool = new Pool({
    size: 2,
    module: new URL("./testdata/tasks.ts", import.meta.url),
  });
  await t.step("self-contained functions and export names, in write order", async () => {
    const store = new Store(pool);
    store.addCallback("n", (value: number) => value + 1);
    store.addCallback("n", "double");
    const writer = store.writer("n");
    const results = await Promise.all([1, 2, 3].map((i) => Promise.all(writer.write(i))));
    assert.deepEqual(results, [[2, 2], [3, 4], [4, 6]]);
  });

  await t.step("a callback that crashes its worker is reported, not rejected", async () => {
    const errors: unknown[] = [];
    const store = new Store(pool, { onError: (error) => errors.push(error) });
    store.addCallback("x", () => (globalThis as unknown as { close(): void }).close());
    assert.deepEqual(await Promise.all(store.writer("x").write(1)), [undefined]);
    assert.equal((errors[0] as Error).name, "WorkerCrashed");
  });
});

Deno.test("Store.watch", async (t) => {
  await t.step("yields values written after the call, until break", async () => {
    const store = new Store();
    const writer = store.writer("k");
    writer.write("before");
    const values = store.watch("k");
    writer.write(1);
    writer.write(2);
    const seen: unknown[] = [];
    for await (const value of values) {
      seen.push(value);
      if (seen.length === 2) break;
    }
    assert.deepEqual(seen, [1, 2]);
  });

  await t.step("abort ends the iteration with the reason", async () => {
    const store = new Store();
    const controller = new AbortController();
    const values = store.watch("k", { signal: controller.signal });
    const next = values.next();
    controller.abort(new RangeError("stop watching"));
    await assert.rejects(next, { name: "RangeError", message: "stop watching" });
    assert.throws(() => store.watch("k", { signal: controller.signal }), RangeError);
  });
});
