// Copyright theta authors. MIT license.
// Length-prefixed frames over a byte stream: the transport between a pool and its process
// workers (stdin and stdout). A frame is a 4-byte little-endian length, then that many bytes.

/** Largest frame: a payload of MAX_PAYLOAD_BYTES plus its record. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024 + 64 * 1024;

/** Writes one frame. */
export async function writeFrame(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  bytes: Uint8Array,
): Promise<void> {
  const frame = new Uint8Array(4 + bytes.length);
  new DataView(frame.buffer).setUint32(0, bytes.length, true);
  frame.set(bytes, 4);
  await writer.write(frame);
}

/** Reads frames from a byte stream, as an async iterable; ends with the stream. */
export class FrameReader implements AsyncIterable<Uint8Array> {
  readonly #stream: ReadableStream<Uint8Array>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#stream = stream;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    // Chunks are kept as they come and joined once a whole frame is there: a large frame that
    // arrives in many small chunks is copied once, not once per chunk.
    const chunks: Uint8Array[] = [];
    let buffered = 0;
    const take = (count: number): Uint8Array => {
      const out = new Uint8Array(count);
      let at = 0;
      while (at < count) {
        const chunk = chunks[0]!;
        const n = Math.min(chunk.length, count - at);
        out.set(chunk.subarray(0, n), at);
        at += n;
        if (n === chunk.length) chunks.shift();
        else chunks[0] = chunk.subarray(n);
      }
      buffered -= count;
      return out;
    };
    let length = -1; // the current frame's length, once its header was read
    for await (const chunk of this.#stream) {
      chunks.push(chunk);
      buffered += chunk.length;
      for (;;) {
        if (length < 0) {
          if (buffered < 4) break;
          length = new DataView(take(4).buffer).getUint32(0, true);
          if (length > MAX_FRAME_BYTES) {
            throw new RangeError(
              `Cannot read a frame as its length is over ${MAX_FRAME_BYTES} bytes: current value is ${length}`,
            );
          }
        }
        if (buffered < length) break;
        const frame = take(length);
        length = -1;
        yield frame;
      }
    }
  }
}
