// deno bench: the codec and the queue on one thread (no cross-thread traffic).
import { decode, encode } from "../_codec.ts";
import { EvictingQueue } from "../queue.ts";

const small = { id: 42, name: "alice", score: 3.5, ok: true, tags: ["a", "b"] };
const encodedSmall = encode(small).slice();

Deno.bench("codec: small object round trip", { group: "codec", baseline: true }, () => {
  decode(encode(small));
});
Deno.bench("codec: number round trip", { group: "codec" }, () => {
  decode(encode(12345.5));
});
Deno.bench("codec: decode small object", { group: "codec" }, () => {
  decode(encodedSmall);
});
Deno.bench("JSON: small object round trip", { group: "codec" }, () => {
  JSON.parse(JSON.stringify(small));
});
Deno.bench("structuredClone: small object", { group: "codec" }, () => {
  structuredClone(small);
});

const queue = new EvictingQueue<unknown>(1024);
Deno.bench("EvictingQueue: put + get, number", { group: "queue", baseline: true }, () => {
  queue.put(1);
  queue.get();
});
Deno.bench("EvictingQueue: put + get, small object", { group: "queue" }, () => {
  queue.put(small);
  queue.get();
});
Deno.bench("EvictingQueue: 1000 evicting puts on a full queue", { group: "queue" }, (b) => {
  const full = new EvictingQueue<number>(16);
  for (let i = 0; i < 16; i++) full.put(i);
  b.start();
  for (let i = 0; i < 1000; i++) full.put(i);
  b.end();
});
const batches = new EvictingQueue<number>();
const sixteen = Array.from({ length: 16 }, (_, i) => i);
Deno.bench("EvictingQueue: putMany + getMany, 16 numbers", { group: "batch" }, () => {
  batches.putMany(sixteen);
  batches.getMany(16);
});
const many = Array.from({ length: 256 }, (_, i) => i);
Deno.bench("EvictingQueue: putMany + getMany, 256 numbers", { group: "batch" }, () => {
  batches.putMany(many);
  batches.getMany(256);
});
