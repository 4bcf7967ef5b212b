// The Deno Deploy isolate, reproduced: no Worker, no code generation from strings. Run by
// `deno task test:deploy` (part of `deno task test`), with
// --v8-flags=--disallow-code-generation-from-strings. Named _check, not _test, so that the main
// run (where Worker and eval exist) does not pick it up.
import assert from "node:assert/strict";

delete (globalThis as { Worker?: unknown }).Worker;
const theta = await import("./mod.ts");

Deno.test("theta without Worker or eval (Deno Deploy)", async (t) => {
  await t.step("the premise: this isolate has neither", () => {
    assert.equal(typeof (globalThis as { Worker?: unknown }).Worker, "undefined");
    assert.throws(() => (0, eval)("1"), EvalError);
    assert.throws(() => new Function("return 1"), EvalError);
  });

  await t.step(
    "Pool() runs inline: function tasks called directly, module tasks imported",
    async () => {
      await using pool = new theta.Pool<typeof import("./testdata/tasks.ts")>({
        module: new URL("./testdata/tasks.ts", import.meta.url),
      });
      assert.equal(pool.size, 0);
      const offset = 10; // closures work inline: nothing is compiled from source
      assert.equal(await pool.run((x: number) => x + offset, [1]), 11);
      assert.equal(await pool.submit("add", 2, 3), 5);
      const mapped: number[] = [];
      for await (const value of pool.map((x: number) => x * 2, [1, 2, 3])) mapped.push(value);
      assert.deepEqual(mapped, [2, 4, 6]);
    },
  );

  await t.step("an explicit size throws, saying why", () => {
    assert.throws(() => new theta.Pool({ size: 2 }), { name: "TypeError", message: /Worker/ });
  });

  await t.step("parallelise", async () => {
    assert.deepEqual(await theta.parallelise((id: number, k: number) => id * k, 4, { args: [3] }), [
      0,
      3,
      6,
      9,
    ]);
  });

  await t.step("Store with its LocalExecutor", async () => {
    const store = new theta.Store();
    const seen: number[] = [];
    store.addCallback("k", (value: number) => seen.push(value));
    await Promise.all(store.writer("k").write(1));
    assert.deepEqual(seen, [1]);
  });

  await t.step("queues and channels within the isolate", () => {
    const queue = new theta.EvictingQueue<number>(2);
    queue.put(1);
    queue.put(2);
    queue.put(3);
    assert.deepEqual(queue.flush(), [2, 3]);
    const [writer, reader] = theta.channel<string>();
    writer.write("a");
    writer.close();
    assert.deepEqual(reader.read(), ["a"]);
  });

  await t.step("a KvPool background job", async () => {
    const kv = await Deno.openKv(":memory:");
    const jobs = new theta.KvPool(kv, { tasks: { double: (x: number) => x * 2 } });
    const listening = jobs.listen();
    const id = await jobs.enqueue("double", [21]);
    assert.equal(await jobs.result(id), 42);
    await jobs.close();
    await listening;
    kv.close();
  });

  await t.step("thread classes throw at construction, naming Worker", () => {
    const message = /no Worker.*KvPool/;
    assert.throws(() => new theta.StoppableThread(() => 1), { name: "TypeError", message });
    assert.throws(() => new theta.Periodic(() => 1, { period: 10 }), {
      name: "TypeError",
      message,
    });
    assert.throws(() => new theta.PollingMap({ read: () => 1 }), { name: "TypeError", message });
  });
});
