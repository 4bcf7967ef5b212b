// Copyright theta authors. MIT license.
// The codec: any structured-cloneable value to bytes and back, so that values can travel through
// SharedArrayBuffer rings without postMessage. A tag byte precedes every value; numbers, ASCII
// strings and arrays of numbers take short paths because they are what queues mostly carry.
// Objects seen twice are written once and referenced after (structured clone keeps identity and
// cycles, so must we).
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported and free of imports other than bundled modules.

import { errorClassByName } from "./_errors.ts";

export const TAG_UNDEFINED = 0;
export const TAG_NULL = 1;
export const TAG_TRUE = 2;
export const TAG_FALSE = 3;
export const TAG_INT32 = 4;
export const TAG_FLOAT64 = 5;
export const TAG_ASCII = 6;
export const TAG_UTF8 = 7;
export const TAG_ARRAY = 8;
export const TAG_OBJECT = 9;
export const TAG_NUMBERS = 10;
export const TAG_BIGINT = 11;
export const TAG_DATE = 12;
export const TAG_REGEXP = 13;
export const TAG_MAP = 14;
export const TAG_SET = 15;
export const TAG_ARRAY_BUFFER = 16;
export const TAG_VIEW = 17;
export const TAG_ERROR = 18;
export const TAG_REF = 19;
export const TAG_HOLE = 20;
export const TAG_ENCODED = 21;

/** Strings up to this length are tried as ASCII by hand; TextEncoder wins beyond it. */
export const ASCII_FAST_LIMIT = 64;

/** Slots a list reused between encodes, decodes or takes keeps (see releaseList). */
export const LIST_KEEP_MAX = 1024;

/**
 * Empties a list reused from one use to the next, of which the first `used` slots were filled.
 * `length = 0` would free its storage for the next use to allocate again (~150 bytes each time):
 * its slots are cleared instead, so that nothing it held stays reachable. A list grown past
 * LIST_KEEP_MAX is given back rather than kept for good.
 */
export function releaseList(list: unknown[], used: number): void {
  if (list.length > LIST_KEEP_MAX) list.length = 0;
  else for (let i = 0; i < used; i++) list[i] = undefined;
}

/** Copies up to this many bytes go byte by byte: a view for `set` costs more (a typed array each). */
export const SMALL_COPY_BYTES = 64;

/** Copies `length` bytes of `source`, from `from`, into `target` at `to`. */
export function copyBytes(
  target: Uint8Array,
  to: number,
  source: Uint8Array,
  from: number,
  length: number,
): void {
  if (length <= SMALL_COPY_BYTES) {
    for (let i = 0; i < length; i++) target[to + i] = source[from + i]!;
  } else {
    const whole = from === 0 && length === source.length;
    target.set(whole ? source : source.subarray(from, from + length), to);
  }
}

/**
 * A value encoded earlier, embedded as is in a larger encoding (pool tasks encode their arguments
 * when submitted, then travel inside a request record). It decodes as the value it holds, with
 * its own back-reference scope.
 */
export class Encoded {
  /** The buffer holding the encoding (it may hold others too: see `offset`). */
  readonly bytes: Uint8Array;
  /** Where the encoding starts in `bytes`. */
  readonly offset: number;
  /** The encoding's length in bytes. */
  readonly length: number;
  constructor(bytes: Uint8Array, offset = 0, length = bytes.length - offset) {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
  }
}

/** Property holding a shareable object's handle getter (see _shareable.ts). */
export const SHAREABLE = Symbol.for("theta.shareable");

/**
 * A value that cannot cross threads. `path` locates it inside the value that was sent;
 * `needsMessage` is true when the value is fine for `postMessage` but not for a byte ring
 * (shared memory, shareable objects), so callers that can fall back to postMessage do.
 */
export class UncloneableError extends TypeError {
  /** Where the value sits, as segments from the root. */
  readonly path: (string | number)[] = [];
  /** True when postMessage could carry it. */
  readonly needsMessage: boolean;
  /** What the value is, for the message. */
  readonly reason: string;
  constructor(reason: string, needsMessage: boolean) {
    super(reason);
    this.name = "TypeError";
    this.reason = reason;
    this.needsMessage = needsMessage;
  }
  /** Completes the message once the path is known, at the top of `encode`. */
  finish(what: string): this {
    let where = what;
    for (const part of this.path) {
      where += typeof part === "number"
        ? `[${part}]`
        : /^[A-Za-z_$][\w$]*$/.test(part)
        ? `.${part}`
        : `[${JSON.stringify(part)}]`;
    }
    this.message = `Cannot send ${where} to another thread as it is ${this.reason}`;
    return this;
  }
}

/** Adds one path segment to an `UncloneableError` on its way up; rethrows anything else. */
export function withPathSegment(error: unknown, segment: string | number): never {
  if (error instanceof UncloneableError) error.path.unshift(segment);
  throw error;
}

/** Names a value's kind for error messages. */
export function describeKind(value: unknown): string {
  if (typeof value === "function") return "a function: pass data, and load code in the task";
  if (typeof value === "symbol") return "a symbol";
  const proto = Object.getPrototypeOf(value);
  const name = proto?.constructor?.name ?? "an object with an exotic prototype";
  return `an instance of ${name}: only plain objects, arrays and built-in types can be sent`;
}

/** Typed array constructors by the index the codec writes for them. */
export function viewConstructor(kind: number): {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): ArrayBufferView;
  readonly BYTES_PER_ELEMENT?: number;
} {
  switch (kind) {
    case 0:
      return Int8Array;
    case 1:
      return Uint8Array;
    case 2:
      return Uint8ClampedArray;
    case 3:
      return Int16Array;
    case 4:
      return Uint16Array;
    case 5:
      return Int32Array;
    case 6:
      return Uint32Array;
    case 7:
      return Float32Array;
    case 8:
      return Float64Array;
    case 9:
      return BigInt64Array;
    case 10:
      return BigUint64Array;
    default:
      return DataView as unknown as ReturnType<typeof viewConstructor>;
  }
}

/** The index of a view's constructor for `viewConstructor`, or -1. */
export function viewKind(view: ArrayBufferView): number {
  if (view instanceof Int8Array) return 0;
  if (view instanceof Uint8Array) return 1;
  if (view instanceof Uint8ClampedArray) return 2;
  if (view instanceof Int16Array) return 3;
  if (view instanceof Uint16Array) return 4;
  if (view instanceof Int32Array) return 5;
  if (view instanceof Uint32Array) return 6;
  if (view instanceof Float32Array) return 7;
  if (view instanceof Float64Array) return 8;
  if (view instanceof BigInt64Array) return 9;
  if (view instanceof BigUint64Array) return 10;
  if (view instanceof DataView) return 11;
  return -1;
}

/** Objects an encode looks up one by one before it indexes them in a Map. */
export const SEEN_SCAN_MAX = 16;

/**
 * Writes values into a reusable scratch buffer. One per thread is enough: encoding never calls
 * user code except getters, and a getter that sends a value gets a fresh encoder (`busy`).
 */
export class Encoder {
  static #shared: Encoder | undefined;
  /** The thread's encoder, or a fresh one if the shared one is in use. */
  static get(): Encoder {
    const shared = Encoder.#shared ??= new Encoder();
    return shared.busy ? new Encoder() : shared;
  }

  static readonly textEncoder: TextEncoder = new TextEncoder();
  buf: Uint8Array = new Uint8Array(1024);
  view: DataView = new DataView(this.buf.buffer);
  pos = 0;
  busy = false;
  /**
   * The objects written so far in this encode, in order: an object's index is its
   * back-reference. Searched one by one while there are few (a task's arguments, a reply), so that
   * an encode allocates nothing for them; past SEEN_SCAN_MAX they are indexed in `#index`.
   * The array is kept between encodes (its slots emptied), so it does not grow again each time.
   */
  #seen: object[] = [];
  #seenCount = 0;
  #index: Map<object, number> | undefined;

  /**
   * Encodes `value`; the result is a view of the scratch buffer, valid until the next `encode`.
   *
   * @param value The value to encode.
   * @param what How to name the value in an error message.
   * @returns The encoded bytes.
   * @throws {UncloneableError} If some part of the value cannot be sent.
   */
  encode(value: unknown, what: string): Uint8Array {
    // Length first: encoding may replace `this.buf` with a larger buffer.
    const length = this.encodeLength(value, what);
    return this.buf.subarray(0, length);
  }

  /**
   * Encodes `value` into `this.buf`, without allocating a view.
   *
   * @returns The number of bytes written at the start of `this.buf`.
   */
  encodeLength(value: unknown, what: string): number {
    if (this.buf.length > 1 << 20) this.reset(1024);
    this.pos = 0;
    this.busy = true;
    try {
      this.write(value);
    } catch (error) {
      if (error instanceof UncloneableError) throw error.finish(what);
      throw error;
    } finally {
      this.busy = false;
      this.#forget();
    }
    return this.pos;
  }

  reset(size: number): void {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const old = this.buf;
    this.reset(size);
    this.buf.set(old.subarray(0, this.pos));
  }

  tag(tag: number): void {
    this.ensure(1);
    this.buf[this.pos++] = tag;
  }

  u32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, value, true);
    this.pos += 4;
  }

  write(value: unknown): void {
    switch (typeof value) {
      case "number":
        return this.number(value);
      case "string":
        return this.string(value);
      case "boolean":
        return this.tag(value ? TAG_TRUE : TAG_FALSE);
      case "undefined":
        return this.tag(TAG_UNDEFINED);
      case "bigint":
        this.tag(TAG_BIGINT);
        return this.string(value.toString(16));
      case "object":
        return value === null ? this.tag(TAG_NULL) : this.object(value);
      default:
        throw new UncloneableError(describeKind(value), false);
    }
  }

  number(value: number): void {
    this.ensure(9);
    if ((value | 0) === value && !Object.is(value, -0)) {
      this.buf[this.pos] = TAG_INT32;
      this.view.setInt32(this.pos + 1, value, true);
      this.pos += 5;
    } else {
      this.buf[this.pos] = TAG_FLOAT64;
      this.view.setFloat64(this.pos + 1, value, true);
      this.pos += 9;
    }
  }

  string(value: string): void {
    const length = value.length;
    if (length <= ASCII_FAST_LIMIT) {
      this.ensure(5 + length);
      const buf = this.buf;
      const start = this.pos + 5;
      let i = 0;
      for (; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) break;
        buf[start + i] = code;
      }
      if (i === length) {
        buf[this.pos] = TAG_ASCII;
        this.view.setUint32(this.pos + 1, length, true);
        this.pos = start + length;
        return;
      }
    }
    this.ensure(5 + length * 3);
    const start = this.pos + 5;
    const { written } = Encoder.textEncoder.encodeInto(value, this.buf.subarray(start));
    this.buf[this.pos] = TAG_UTF8;
    this.view.setUint32(this.pos + 1, written, true);
    this.pos = start + written;
  }

  /** Writes a back-reference if `value` was written before; otherwise remembers it. */
  reference(value: object): boolean {
    const count = this.#seenCount;
    let index: number | undefined;
    if (this.#index !== undefined) {
      index = this.#index.get(value);
    } else {
      const seen = this.#seen;
      for (let i = 0; i < count; i++) {
        if (seen[i] === value) {
          index = i;
          break;
        }
      }
    }
    if (index === undefined) {
      this.#seen[count] = value;
      this.#seenCount = count + 1;
      if (this.#index !== undefined) this.#index.set(value, count);
      else if (count + 1 > SEEN_SCAN_MAX) {
        this.#index = new Map(this.#seen.slice(0, count + 1).map((object, i) => [object, i]));
      }
      return false;
    }
    this.tag(TAG_REF);
    this.u32(index);
    return true;
  }

  /** Forgets the objects of the last encode (without holding on to them). */
  #forget(): void {
    releaseList(this.#seen, this.#seenCount);
    this.#seenCount = 0;
    this.#index = undefined;
  }

  object(value: object): void {
    if (value instanceof Encoded) return this.encoded(value);
    if (this.reference(value)) return;
    if (Array.isArray(value)) return this.array(value);
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) return this.plain(value);
    if ((value as Record<symbol, unknown>)[SHAREABLE] !== undefined) {
      throw new UncloneableError("a shared object: pass it as a thread or task argument", true);
    }
    if (value instanceof Date) {
      this.tag(TAG_DATE);
      this.ensure(8);
      this.view.setFloat64(this.pos, value.getTime(), true);
      this.pos += 8;
      return;
    }
    if (value instanceof RegExp) {
      this.tag(TAG_REGEXP);
      this.string(value.source);
      return this.string(value.flags);
    }
    if (value instanceof Map) return this.map(value);
    if (value instanceof Set) return this.set(value);
    if (value instanceof Error) return this.error(value);
    if (value instanceof ArrayBuffer) return this.arrayBuffer(value);
    if (ArrayBuffer.isView(value)) return this.arrayView(value);
    if (value instanceof SharedArrayBuffer) {
      throw new UncloneableError("a SharedArrayBuffer: pass it as a thread or task argument", true);
    }
    throw new UncloneableError(describeKind(value), false);
  }

  encoded(value: Encoded): void {
    const { bytes, offset, length } = value;
    this.tag(TAG_ENCODED);
    this.u32(length);
    this.ensure(length);
    copyBytes(this.buf, this.pos, bytes, offset, length);
    this.pos += length;
  }

  array(value: unknown[]): void {
    const length = value.length;
    let numbers = length > 0;
    for (let i = 0; i < length && numbers; i++) numbers = typeof value[i] === "number";
    if (numbers) {
      this.ensure(5 + length * 8);
      this.buf[this.pos] = TAG_NUMBERS;
      this.view.setUint32(this.pos + 1, length, true);
      let at = this.pos + 5;
      for (let i = 0; i < length; i++, at += 8) {
        this.view.setFloat64(at, value[i] as number, true);
      }
      this.pos = at;
      return;
    }
    this.tag(TAG_ARRAY);
    this.u32(length);
    for (let i = 0; i < length; i++) {
      if (!(i in value)) {
        this.tag(TAG_HOLE);
        continue;
      }
      try {
        this.write(value[i]);
      } catch (error) {
        withPathSegment(error, i);
      }
    }
  }

  plain(value: object): void {
    const keys = Object.keys(value);
    this.tag(TAG_OBJECT);
    this.u32(keys.length);
    for (const key of keys) {
      this.string(key);
      try {
        this.write((value as Record<string, unknown>)[key]);
      } catch (error) {
        withPathSegment(error, key);
      }
    }
  }

  map(value: Map<unknown, unknown>): void {
    this.tag(TAG_MAP);
    this.u32(value.size);
    let i = 0;
    for (const [key, item] of value) {
      try {
        this.write(key);
        this.write(item);
      } catch (error) {
        withPathSegment(error, `<map entry ${i}>`);
      }
      i++;
    }
  }

  set(value: Set<unknown>): void {
    this.tag(TAG_SET);
    this.u32(value.size);
    let i = 0;
    for (const item of value) {
      try {
        this.write(item);
      } catch (error) {
        withPathSegment(error, `<set entry ${i}>`);
      }
      i++;
    }
  }

  error(value: Error): void {
    this.tag(TAG_ERROR);
    this.string(String(value.name));
    this.string(String(value.message));
    this.write(typeof value.stack === "string" ? value.stack : undefined);
    const hasCause = "cause" in value;
    this.tag(hasCause ? TAG_TRUE : TAG_FALSE);
    if (hasCause) {
      try {
        this.write(value.cause);
      } catch (error) {
        withPathSegment(error, "cause");
      }
    }
    const errors = value instanceof AggregateError ? value.errors : undefined;
    try {
      this.write(errors);
    } catch (error) {
      withPathSegment(error, "errors");
    }
    // Own enumerable properties: `code`, `jobId`, a `name` assigned by a constructor.
    const keys = Object.keys(value);
    this.u32(keys.length);
    for (const key of keys) {
      this.string(key);
      try {
        this.write((value as unknown as Record<string, unknown>)[key]);
      } catch (error) {
        withPathSegment(error, key);
      }
    }
  }

  arrayBuffer(value: ArrayBuffer): void {
    this.tag(TAG_ARRAY_BUFFER);
    this.u32(value.byteLength);
    this.ensure(value.byteLength);
    this.buf.set(new Uint8Array(value), this.pos);
    this.pos += value.byteLength;
  }

  arrayView(value: ArrayBufferView): void {
    if (value.buffer instanceof SharedArrayBuffer) {
      throw new UncloneableError("a view of shared memory: pass it as a task argument", true);
    }
    const kind = viewKind(value);
    if (kind < 0) throw new UncloneableError(describeKind(value), false);
    this.tag(TAG_VIEW);
    this.tag(kind);
    this.u32(value.byteLength);
    this.ensure(value.byteLength);
    this.buf.set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength), this.pos);
    this.pos += value.byteLength;
  }
}

/** Reads values written by `Encoder` from a (non-shared) byte array. */
export class Decoder {
  static #shared: Decoder | undefined;
  /** The thread's decoder, or a fresh one if the shared one is in use. */
  static get(): Decoder {
    const shared = Decoder.#shared ??= new Decoder();
    return shared.busy ? new Decoder() : shared;
  }

  static readonly textDecoder: TextDecoder = new TextDecoder();
  buf: Uint8Array = new Uint8Array(0);
  view: DataView = new DataView(this.buf.buffer);
  pos = 0;
  busy = false;
  /**
   * The values a TAG_REF can point back to: slots from `refBase` (an embedded encoding's scope
   * starts there) to `refCount`. Reused from one decode to the next (see releaseList), cleared up
   * to `refTop`, the most slots this decode filled.
   */
  readonly refs: unknown[] = [];
  refCount = 0;
  refBase = 0;
  refTop = 0;

  /**
   * Decodes one value from `bytes`.
   *
   * @param bytes Bytes written by `Encoder.encode`.
   * @returns The value.
   */
  decode(bytes: Uint8Array): unknown {
    return this.decodeAt(bytes, 0);
  }

  /**
   * Decodes one value from `bytes`, starting at `offset`, without allocating a view.
   *
   * @param bytes A buffer holding bytes written by `Encoder`.
   * @param offset Where the value starts.
   * @returns The value.
   */
  decodeAt(bytes: Uint8Array, offset: number): unknown {
    if (this.buf !== bytes) {
      this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.buf = bytes;
    }
    this.pos = offset;
    this.busy = true;
    try {
      return this.read();
    } finally {
      this.busy = false;
      this.#clearRefs();
    }
  }

  /** Records a value a later TAG_REF may point to; returns its slot. */
  addRef(value: unknown): number {
    const slot = this.refCount++;
    this.refs[slot] = value;
    return slot;
  }

  #clearRefs(): void {
    releaseList(this.refs, Math.max(this.refTop, this.refCount));
    this.refCount = 0;
    this.refBase = 0;
    this.refTop = 0;
  }

  u32(): number {
    const value = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return value;
  }

  read(): unknown {
    const tag = this.buf[this.pos++];
    switch (tag) {
      case TAG_INT32: {
        const value = this.view.getInt32(this.pos, true);
        this.pos += 4;
        return value;
      }
      case TAG_FLOAT64: {
        const value = this.view.getFloat64(this.pos, true);
        this.pos += 8;
        return value;
      }
      case TAG_ASCII:
      case TAG_UTF8:
        return this.stringBody(tag);
      case TAG_UNDEFINED:
        return undefined;
      case TAG_NULL:
        return null;
      case TAG_TRUE:
        return true;
      case TAG_FALSE:
        return false;
      case TAG_NUMBERS:
        return this.numbers();
      case TAG_ARRAY:
        return this.array();
      case TAG_OBJECT:
        return this.plain();
      case TAG_BIGINT: {
        const hex = this.string();
        return hex.startsWith("-") ? -BigInt(`0x${hex.slice(1)}`) : BigInt(`0x${hex}`);
      }
      case TAG_DATE: {
        const date = new Date(this.view.getFloat64(this.pos, true));
        this.pos += 8;
        this.addRef(date);
        return date;
      }
      case TAG_REGEXP: {
        const index = this.addRef(undefined);
        const regexp = new RegExp(this.string(), this.string());
        this.refs[index] = regexp;
        return regexp;
      }
      case TAG_MAP:
        return this.map();
      case TAG_SET:
        return this.set();
      case TAG_ERROR:
        return this.error();
      case TAG_ARRAY_BUFFER: {
        const length = this.u32();
        const buffer = this.buf.slice(this.pos, this.pos + length).buffer;
        this.pos += length;
        this.addRef(buffer);
        return buffer;
      }
      case TAG_VIEW:
        return this.arrayView();
      case TAG_REF:
        return this.refs[this.refBase + this.u32()];
      case TAG_ENCODED: {
        // Its own scope: its references count from 0, and the outer ones resume after it.
        this.pos += 4;
        const base = this.refBase;
        const count = this.refCount;
        this.refBase = count;
        try {
          return this.read();
        } finally {
          this.refTop = Math.max(this.refTop, this.refCount);
          this.refBase = base;
          this.refCount = count;
        }
      }
      default:
        throw new RangeError(`Cannot decode value as its tag is unknown: current value is ${tag}`);
    }
  }

  string(): string {
    return this.stringBody(this.buf[this.pos++]!);
  }

  stringBody(tag: number): string {
    const length = this.u32();
    const start = this.pos;
    this.pos += length;
    if (tag === TAG_ASCII && length <= ASCII_FAST_LIMIT) {
      let out = "";
      for (let i = start; i < this.pos; i++) out += String.fromCharCode(this.buf[i]!);
      return out;
    }
    return Decoder.textDecoder.decode(this.buf.subarray(start, this.pos));
  }

  numbers(): number[] {
    const length = this.u32();
    const out = new Array<number>(length);
    for (let i = 0; i < length; i++, this.pos += 8) out[i] = this.view.getFloat64(this.pos, true);
    this.addRef(out);
    return out;
  }

  array(): unknown[] {
    const length = this.u32();
    const out = new Array<unknown>(length);
    this.addRef(out);
    for (let i = 0; i < length; i++) {
      if (this.buf[this.pos] === TAG_HOLE) {
        this.pos++;
        continue;
      }
      out[i] = this.read();
    }
    return out;
  }

  plain(): Record<string, unknown> {
    const count = this.u32();
    const out: Record<string, unknown> = {};
    this.addRef(out);
    for (let i = 0; i < count; i++) {
      const key = this.string();
      out[key] = this.read();
    }
    return out;
  }

  map(): Map<unknown, unknown> {
    const size = this.u32();
    const out = new Map();
    this.addRef(out);
    for (let i = 0; i < size; i++) {
      const key = this.read();
      out.set(key, this.read());
    }
    return out;
  }

  set(): Set<unknown> {
    const size = this.u32();
    const out = new Set();
    this.addRef(out);
    for (let i = 0; i < size; i++) out.add(this.read());
    return out;
  }

  error(): Error {
    const index = this.addRef(undefined);
    const name = this.string();
    const message = this.string();
    const stack = this.read() as string | undefined;
    const hasCause = this.buf[this.pos++] === TAG_TRUE;
    const error = reviveError(name, message, stack);
    this.refs[index] = error;
    if (hasCause) defineHidden(error, "cause", this.read());
    const errors = this.read();
    if (errors !== undefined) defineHidden(error, "errors", errors);
    const extras = this.u32();
    for (let i = 0; i < extras; i++) {
      const key = this.string();
      (error as unknown as Record<string, unknown>)[key] = this.read();
    }
    return error;
  }

  arrayView(): ArrayBufferView {
    const kind = this.buf[this.pos++]!;
    const byteLength = this.u32();
    const buffer = this.buf.slice(this.pos, this.pos + byteLength).buffer;
    this.pos += byteLength;
    const View = viewConstructor(kind);
    const length = byteLength / (View.BYTES_PER_ELEMENT ?? 1);
    const view = new View(buffer, 0, length);
    this.addRef(view);
    return view;
  }
}

/** Defines a non-enumerable own property, the way `Error` keeps `message`, `stack`, `cause`. */
export function defineHidden(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true });
}

/**
 * Rebuilds an error from its tagged shape: same class (theta's and built-ins, by name), same
 * `name`, `message` and `stack`. `DOMException`s such as `TimeoutError` and `AbortError` revive
 * as `DOMException`s.
 */
export function reviveError(name: string, message: string, stack: string | undefined): Error {
  let error: Error;
  const Class = errorClassByName(name);
  if (isDomExceptionName(name)) {
    error = new DOMException(message, name);
  } else {
    // A native error (with the internal error slot) of the right class, without running the
    // class's own constructor, whose parameters may differ.
    error = Reflect.construct(Error, [message], Class ?? Error);
    // Unknown classes keep their name as an own property, as their constructor gave it.
    if (Class === undefined && name !== "Error") error.name = name;
  }
  defineHidden(error, "stack", stack ?? `${name}: ${message}`);
  return error;
}

/** DOMException names that abort and timeout reasons carry. */
export function isDomExceptionName(name: string): boolean {
  return name === "AbortError" || name === "TimeoutError" || name === "DataCloneError" ||
    name === "InvalidStateError" || name === "NotSupportedError" || name === "NetworkError";
}

/**
 * Encodes a value with the thread's encoder.
 *
 * @param value The value.
 * @param what How to name it in an error ("value", "args[0]").
 * @returns A view of the encoder's scratch buffer, valid until the next call.
 * @throws {UncloneableError} If some part of it cannot be sent.
 */
export function encode(value: unknown, what = "value"): Uint8Array {
  return Encoder.get().encode(value, what);
}

/**
 * Decodes bytes written by `encode`.
 *
 * @param bytes The bytes (not a view of shared memory).
 * @returns The value.
 */
export function decode(bytes: Uint8Array): unknown {
  return Decoder.get().decode(bytes);
}

/**
 * A sendable version of a thrown value whose own encoding failed. An Error becomes a plain Error
 * with its name, message and stack (its class is revived by name); a plain object or array keeps
 * every field that can cross threads; anything else becomes an Error with its text.
 */
export function sendableThrown(error: unknown): unknown {
  if (error instanceof Error) {
    const plain = new Error(error.message);
    plain.name = error.name;
    plain.stack = error.stack ?? "";
    return plain;
  }
  if (typeof error === "object" && error !== null) {
    const proto = Object.getPrototypeOf(error);
    if (Array.isArray(error) || proto === Object.prototype || proto === null) {
      const kept: Record<string, unknown> = Array.isArray(error) ? [] as never : {};
      for (const key of Object.keys(error)) {
        const field = (error as Record<string, unknown>)[key];
        try {
          encode(field);
          kept[key] = field;
        } catch {
          // A field that cannot cross threads (a function, a symbol) is left behind.
        }
      }
      return kept;
    }
  }
  return new Error(String(error));
}

/** A call's outcome as bytes, from `encodeOutcome`. */
export interface EncodedOutcome {
  /** False if the call failed, or its result could not be sent (then `bytes` hold a TypeError). */
  ok: boolean;
  /** The encoded value or error: a view of the encoder's scratch, valid until the next encode. */
  bytes: Uint8Array;
  /** True if the result could not be encoded but postMessage could carry it (shared objects). */
  needsMessage: boolean;
}

/**
 * Encodes a call's outcome for another thread, the one way every theta transport does it: a
 * result that cannot be sent becomes a TypeError saying why, and an error that cannot be sent
 * travels as a plain Error with its name, message and stack.
 *
 * @param ok Whether the call returned (`value` is its result) or threw (`value` is the error).
 * @param value The result or error.
 * @param what How to name the result in an error ("the task's result").
 * @returns The outcome's bytes; see `needsMessage` for results a postMessage path may carry.
 */
export function encodeOutcome(ok: boolean, value: unknown, what: string): EncodedOutcome {
  try {
    return { ok, bytes: encode(value, what), needsMessage: false };
  } catch (error) {
    if (!(error instanceof UncloneableError)) throw error;
    if (!ok) return { ok: false, bytes: encode(sendableThrown(value)), needsMessage: false };
    return {
      ok: false,
      bytes: encode(new TypeError(error.message)),
      needsMessage: error.needsMessage,
    };
  }
}
