// Tests of the length-prefixed frames between a pool and its process workers.
import assert from "node:assert/strict";
import { FrameReader, MAX_FRAME_BYTES, writeFrame } from "./frames.ts";

Deno.test("frames survive any chunking of the stream", async () => {
  const frames = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(70_000).fill(9)];
  const chunks: Uint8Array[] = [];
  const sink = new WritableStream<Uint8Array>({ write: (chunk) => void chunks.push(chunk) });
  const writer = sink.getWriter();
  for (const frame of frames) await writeFrame(writer, frame);
  await writer.close();
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) all.set(chunk, (at += chunk.length) - chunk.length);
  for (const size of [1, 3, 4096, all.length]) {
    const stream = ReadableStream.from((function* (): Generator<Uint8Array> {
      for (let i = 0; i < all.length; i += size) yield all.slice(i, i + size);
    })());
    assert.deepEqual(await Array.fromAsync(new FrameReader(stream)), frames, `chunks of ${size}`);
  }
});

Deno.test("a frame header over the limit is an error, not an allocation", async () => {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES + 1, true);
  await assert.rejects(
    Array.fromAsync(new FrameReader(ReadableStream.from([header]))),
    RangeError,
  );
});
