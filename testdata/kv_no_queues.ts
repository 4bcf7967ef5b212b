// For kv_test.ts: KvPool where KV has no queues (the new Deno Deploy): the queue methods are
// deleted before theta loads. Prints the results.
const kvProto = Deno.Kv.prototype as unknown as Record<string, unknown>;
delete kvProto.enqueue;
delete kvProto.listenQueue;
delete (Deno.AtomicOperation.prototype as unknown as Record<string, unknown>).enqueue;
const { KvPool } = await import("../kv.ts");
const kv = await Deno.openKv(":memory:");
const jobs = new KvPool(kv, { tasks: { add: (a: number, b: number) => a + b } });
const listening = jobs.listen();
console.log("submit", await jobs.submit("add", 2, 3));
const id = await jobs.enqueue("add", [4, 4], { delay: 20 });
console.log("enqueue", await jobs.result(id));
await jobs.close();
await listening;
kv.close();
