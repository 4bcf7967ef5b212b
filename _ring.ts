// Copyright theta authors. MIT license.
// The one SharedArrayBuffer ring that queue, channel, callqueue and pool build on: a FIFO of
// variable-length encoded values, for any number of producers and consumers on any threads.
//
// Why a mutex and not a lock-free scheme: records have variable length, the ring evicts, and its
// storage grows; lock-free rings handle none of these without a second level of indirection.
// The critical section is a few copies long, an uncontended lock costs one compare-exchange, and
// a contended one spins briefly before sleeping on the futex (_futex.ts). Encoding and decoding
// happen outside the lock.
//
// Layout. `control` (fixed size): Int32 words below, then Float64 stats. `data` (growable): records
// of a 4-byte header followed by the payload, each padded to 4 bytes, so a header never straddles
// the end; a payload may wrap around it. A header is the payload's length, or, with NUMBERS_BIT
// set, marks a block of numbers: raw float64s, one item each, so a run of numbers costs 8 bytes
// a number and copies in bulk instead of one codec record each. Consumers may take part of the
// head block; CTL_HEAD_SKIP counts its items already gone. Item counters count items, not records.
//
// Alignment. V8 copies into and out of shared memory byte by byte between buffers 4 bytes off
// each other's alignment (4x slower for 256 numbers, measured). So a block of numbers starts at a
// multiple of 8 (PAD_BIT: 4 bytes of padding after the header when the tail was 8-aligned), and
// the storage is a multiple of 8 bytes: a block is read as float64s and wraps around the end
// between two numbers. A block of one number (a single put) is not padded: 12 bytes, not 16
// (padded, one number at a time between two threads ran 16 -> 13 M/s); it is read from its two
// words, which may straddle the end. A codec payload copied in bulk (over WORD_COPY_MAX_BYTES) is
// padded the same way where it fits padded (a 64 KiB Uint8Array's put + get: 22-30 -> 14-22 us).
//
// Waiting readers and writers sleep on sequence words that producers bump only when the matching
// waiter count is non-zero: a notify only costs when someone waits (and, in a single-reader ring,
// only once per sleep: see CTL_ARMED).
//
// This file is part of the worker bundle (see _bundle.ts): keep every module-level binding
// exported.

import { copyBytes, Decoder, Encoder, LIST_KEEP_MAX } from "./_codec.ts";
import {
  criticalLock,
  criticalLockAnyway,
  criticalUnlock,
  deadlineOf,
  notify,
  remaining,
  Termination,
  waitAsync,
  waitSync,
} from "./_futex.ts";

// Control words, one 128-byte block per role, each role's words within its block's first 36:
//   bytes   0  settings and waiter counts (read-mostly)
//   bytes 128  the tail lock and tail position, puts and evictions counted: producers only
//   bytes 256  the head lock and head position, gets counted: consumers only
//   bytes 384  pushed items and bytes: producers store, consumers load
//   bytes 512  popped items and bytes: consumers store, producers load
//   bytes 640  the push epoch, so consumers can trust a cached PUSHED (see #available)
//   bytes 768  writers waiting for their item to be taken: hand-off rings only (see CTL_HANDERS)
// 128, not 64: nothing places a SharedArrayBuffer on a cache-line boundary, and with roles 64
// bytes apart (a 448-byte block) the tail's words and the head's can share a line. They did in
// some rings: a number queue between two threads ran at 8-9 M/s in 11 of 18 runs
// and 13-16 M/s in the others; with 128 (at least 92 bytes between two roles' words, so never one
// line whatever the offset) 12-16 M/s in 18 of 18, as ringbuf.js (bench/README.md).
// The published counters are monotonic wrapping Int32s: their differences are the item count and
// the bytes used. Each side only stores its own counters and loads the other's; a store does not
// stall on a line the other core holds, while an atomic add (or a lock's compare-exchange on a
// line the other side polls) would, on every item.
export const CTL_FLAGS = 0;
export const CTL_CAPACITY = 1;
export const CTL_MAX_ITEMS = 2;
export const CTL_MAX_BYTES = 3;
export const CTL_READERS = 4;
export const CTL_READ_SEQ = 5;
export const CTL_WRITERS = 6;
export const CTL_WRITE_SEQ = 7;
/**
 * Single-reader rings only (FLAG_SINGLE_READER): the reader's wake-up is armed. The reader sets it
 * (0 -> 1) when it registers to sleep, before its last check; the first producer that finds it
 * armed takes it (exchange 1 -> 0) and notifies. The producers after it, until the reader sleeps
 * again, save the notify syscall (about 7.6 us each here): the reader is already on its way, and
 * finds their items on its next check.
 */
export const CTL_ARMED = 8;
export const CTL_TAIL_LOCK = 32;
export const CTL_TAIL = 33;
export const CTL_LAST = 34;
export const CTL_HEAD_LOCK = 64;
export const CTL_HEAD = 65;
/** Items of the head record already taken or evicted (a block of numbers only), else 0. */
export const CTL_HEAD_SKIP = 66;
export const CTL_PUSHED = 96;
export const CTL_PUSHED_BYTES = 97;
export const CTL_POPPED = 128;
export const CTL_POPPED_BYTES = 129;
/** Bumped each time PUSHED crosses a multiple of 2^30 (read-mostly). */
export const CTL_PUSH_EPOCH = 160;
/**
 * Hand-off rings only (FLAG_HAND_OFF): writers waiting for their item to be taken, and the word
 * they sleep on. A writer that put its item (its ticket: PUSHED right after its put) registers
 * (HANDERS += 1), reads TAKEN_SEQ, then checks POPPED against its ticket; a take publishes POPPED,
 * then, if HANDERS > 0, bumps TAKEN_SEQ and wakes them all (one item at most is in the ring, so
 * one of them at most is still waiting for its own). `stop()` bumps it too.
 */
export const CTL_HANDERS = 192;
export const CTL_TAKEN_SEQ = 193;
export const EPOCH_MASK = 0x3fffffff;
export const STAT_PUTS = 18; // Float64 index: byte 144, the tail's block
export const STAT_EVICTED = 19; // byte 152, the tail's block
export const STAT_GETS = 34; // byte 272, the head's block
export const CONTROL_BYTES = 896;
export const FLAG_STOPPED = 1;
/** Set at creation: one thread only takes from this ring (see CTL_ARMED). */
export const FLAG_SINGLE_READER = 2;
/**
 * Set at creation: no put ever waits for room (an EvictingQueue's puts evict or fail), so a take
 * need not look for waiting writers (an atomic load a take saved).
 */
export const FLAG_WRITERS_NEVER_WAIT = 4;
/**
 * Set at creation, with a limit of one item: a put returns only once a reader took its item
 * (Go's unbuffered channel); one that times out, is aborted or sees the ring stopped first takes
 * its item back (see #waitTaken).
 */
export const FLAG_HAND_OFF = 8;

/** Header bit of a block of numbers; the rest of the header is the payload's length. */
export const NUMBERS_BIT = 0x80000000;
/**
 * Header bit of a record whose payload starts 8 bytes after the header, not 4, so that it starts
 * 8-aligned: set on a block of two or more numbers put where the tail is 8-aligned, and on a
 * codec payload over WORD_COPY_MAX_BYTES there if it fits padded (see #putLocked).
 */
export const PAD_BIT = 0x40000000;
/** The payload's length in a header (lengths stay below MAX_RING_BYTES, 2^30). */
export const LENGTH_MASK = 0x3fffffff;
/** Most numbers in one block: a longer run is split, so that a block stays cheap to evict. */
export const BLOCK_MAX_ITEMS = 1024;

/** Default ceiling of a ring's byte storage: reserved address space, not memory. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_INITIAL_BYTES = 4096;
/** Offsets are Int32 words, so storage stays below 2 GiB. */
export const MAX_RING_BYTES = 1024 * 1024 * 1024;

/**
 * Polls before a blocking take or put sleeps: about 42 us on an empty ring here (2 cores, AMD
 * EPYC VM). A streaming peer usually delivers within it; sleeping instead would make it pay a
 * futex wake-up per item. 400 polls (8.5 us) made a pool's sequential tail cheaper when the two
 * threads shared a core, but put its worker to sleep between 5% of calls otherwise (p95 4-5 ->
 * 15-19 us), and the mean did not move (6 alternating runs, 2026-11-25).
 */
export const SPIN_POLLS = 2000;

/** Outcomes of a non-blocking put. */
export const PUT_DONE = 0;
export const PUT_FULL = 1;
export const PUT_STOPPED = 2;
export const PUT_TOO_LARGE = 3;
export const PUT_TIMED_OUT = 4;
/** A hand-off put's item was not taken in time, and was taken back. */
export const PUT_NOT_TAKEN = 5;

/** Sentinels a take can return instead of a value. */
export const NOTHING: unique symbol = Symbol("nothing");
export const ENDED: unique symbol = Symbol("ended");
export const TIMED_OUT: unique symbol = Symbol("timed out");
export const MUST_WAIT: unique symbol = Symbol("must wait");

export type TakeResult = unknown;

/** The structured-cloneable description of a ring, to rebuild it in another thread. */
export interface RingHandle {
  /** Counters, limits, locks and wait words. */
  readonly control: SharedArrayBuffer;
  /** The records (a growable SharedArrayBuffer). */
  readonly data: SharedArrayBuffer;
}

/** How to create a ring. */
export interface RingOptions {
  /** Most items held at once; 0 for no count limit. */
  maxItems?: number;
  /** Ceiling of the byte storage. */
  maxBytes?: number;
  /** Initial byte storage. */
  initialBytes?: number;
  /**
   * Whether one thread only ever takes from the ring (a pool worker's requests): then a sleeping
   * reader is notified once per sleep, not once per put (see CTL_ARMED).
   */
  singleReader?: boolean;
  /** Whether puts never wait for room: `put`/`putAsync` are then refused (see FLAG_WRITERS_NEVER_WAIT). */
  writersNeverWait?: boolean;
  /** Whether a put waits until a reader took its item (see FLAG_HAND_OFF); implies `maxItems: 1`. */
  handOff?: boolean;
}

/** Counters kept in shared memory. */
export interface RingStats {
  puts: number;
  gets: number;
  evicted: number;
}

/** Rounds up to a multiple of 4. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Typed arrays whose elements are numbers (not bigints): `putMany` copies them in bulk. */
export type NumberArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray;

/** True for a typed array of numbers (see NumberArray). */
export function isNumberArray(value: unknown): value is NumberArray {
  return ArrayBuffer.isView(value) && !(value instanceof DataView) &&
    !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array);
}

/**
 * Longest copy made a word at a time: below it, a loop beats making a view for `set` (a typed
 * array allocation each). Measured with bench/queue_bench.ts.
 */
export const WORD_COPY_MAX_BYTES = 1024;

/** Copies `count` 32-bit words from `source[from]` to `target[to]`. */
export function copyWords(
  target: Uint32Array,
  to: number,
  source: Uint32Array,
  from: number,
  count: number,
): void {
  for (let i = 0; i < count; i++) target[to + i] = source[from + i]!;
}

/**
 * A thread's scratch block for batch puts: the records are laid out here outside any lock, then
 * copied to the ring under the tail lock. One per thread, like the codec's encoder; a batch put
 * made while it is in use (by a getter of a value being encoded) gets a fresh one (`busy`), so
 * that it cannot overwrite the batch being laid out.
 */
export class BatchScratch {
  static #shared: BatchScratch | undefined;

  /** The thread's scratch block, or a fresh one if the shared one is in use. */
  static get(): BatchScratch {
    const shared = BatchScratch.#shared ??= new BatchScratch(4096);
    return shared.busy ? new BatchScratch(256) : shared;
  }

  bytes: Uint8Array;
  /** 32-bit and float64 views of `bytes`. */
  words: Uint32Array;
  numbers: Float64Array;
  busy = false;
  /** The records laid out (see Ring's #planBatch), `count` of them; reused between batches. */
  readonly pieces: number[] = [];
  count = 0;

  /** @param size Initial bytes, a multiple of 8. */
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.words = new Uint32Array(this.bytes.buffer);
    this.numbers = new Float64Array(this.bytes.buffer);
  }

  /** Grows the block to hold `length` bytes, keeping its content. */
  reserve(length: number): void {
    if (this.bytes.length >= length) return;
    const grown = new Uint8Array(align8(Math.max(2 * this.bytes.length, length)));
    grown.set(this.bytes);
    this.bytes = grown;
    this.words = new Uint32Array(grown.buffer);
    this.numbers = new Float64Array(grown.buffer);
  }
}

/**
 * Where the payload of the record at `at` with header `header` starts: past the storage's end
 * when the header is its last word (the caller wraps it).
 */
export function payloadAt(at: number, header: number): number {
  return header & PAD_BIT ? at + 8 : at + 4;
}

/** Numbers a block of numbers holds, from its header (NUMBERS_BIT set). */
export function numbersIn(header: number): number {
  return (header & LENGTH_MASK) / 8;
}

/** Bytes a record takes in the storage, its header and padding included. */
export function recordBytes(header: number): number {
  return (header & PAD_BIT ? 8 : 4) + align4(header & LENGTH_MASK);
}

/** Rounds up to a multiple of 8. */
export function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * A FIFO of encoded values in shared memory.
 *
 * Two locks: producers serialise on the tail lock, consumers on the head lock. A put writes its
 * record past the tail, then publishes it by advancing PUSHED_BYTES and PUSHED (its items); a
 * take compares PUSHED with POPPED, copies the head record (or numbers of a head block), then
 * advances POPPED and, once the record is gone, POPPED_BYTES. Whatever must move both ends
 * (eviction, growth, a stats snapshot) takes the tail lock, then the head lock, never the reverse.
 *
 * Sleeping without a shared lock: a waiter first registers (READERS += 1), reads the sequence
 * word, then checks again; a producer first publishes, then reads READERS and bumps the sequence
 * if anyone is registered. Both sides use sequentially consistent atomics, so either the waiter
 * sees the item or the producer sees the waiter (and the waiter's sleep returns at once).
 * Writers waiting for room mirror this. A put wakes as many readers as items it added, a take as
 * many writers as items it took (waking every writer made N writers on a full ring quadratic),
 * and a woken writer that leaves room unused (room to spare after its put, a record too large for
 * the room, timing out or being killed) hands one wake on (`#passWake`, see `#putOrRegister`);
 * an async wait aborted after it was woken hands its wake-up on in `waitAsync`. In a hand-off ring
 * a writer then waits once more, on its own words, for its item to be taken (see CTL_HANDERS).
 */
export class Ring {
  /** A single number's bytes (tryPut): apart from the batch scratch, which may be in use. */
  static #one: BatchScratch = new BatchScratch(8);
  /** Two words read as one float64 (see #numberAt). */
  static #pair = (() => {
    const number = new Float64Array(1);
    return { number, words: new Uint32Array(number.buffer) };
  })();

  /**
   * Allocates a new ring.
   *
   * @param options Limits and initial size.
   * @returns The ring.
   */
  static create(options: RingOptions = {}): Ring {
    const maxBytes = Math.min(
      MAX_RING_BYTES,
      Math.max(64, (options.maxBytes ?? DEFAULT_MAX_BYTES) & ~7),
    );
    // Multiples of 8, as growth (doubling, up to maxBytes) keeps them: see PAD_BIT.
    const initial = Math.min(maxBytes, align8(options.initialBytes ?? DEFAULT_INITIAL_BYTES));
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const data = new SharedArrayBuffer(initial, { maxByteLength: maxBytes });
    const ctl = new Int32Array(control);
    ctl[CTL_CAPACITY] = initial;
    // One item at most in a hand-off ring: a writer's item is then the head until taken.
    ctl[CTL_MAX_ITEMS] = options.handOff ? 1 : options.maxItems ?? 0;
    ctl[CTL_MAX_BYTES] = maxBytes;
    ctl[CTL_FLAGS] = (options.singleReader ? FLAG_SINGLE_READER : 0) |
      (options.writersNeverWait ? FLAG_WRITERS_NEVER_WAIT : 0) |
      (options.handOff ? FLAG_HAND_OFF : 0);
    return new Ring({ control, data });
  }

  readonly handle: RingHandle;
  readonly ctl: Int32Array;
  readonly stats64: Float64Array;
  readonly data: SharedArrayBuffer;
  /**
   * Fixed-length views of `data`, rebuilt when another thread grew it: V8 accesses
   * length-tracking views of a growable buffer about ten times slower.
   */
  bytes: Uint8Array;
  words: Uint32Array;
  /** Float64 view of `data`, for blocks of numbers (8-aligned: see PAD_BIT). */
  #numbers: Float64Array;
  #out: Uint8Array = new Uint8Array(256);
  #out32: Uint32Array = new Uint32Array(this.#out.buffer);
  /** #tryTake's number, taken as takeMany takes numbers (see #takeHeadLocked). */
  readonly #taken: unknown[] = [0];
  /** takeMany's list of pieces (see there). */
  readonly #pieces: number[] = [];
  #waitSeq = 0;
  /** CTL_POPPED when a writer last registered to wait (see #putOrRegister). */
  #waitPopped = 0;
  #seenPushed = 0;
  #seenEpoch = -1;
  #seenPopped = 0;
  #seenPoppedBytes = 0;
  #lastPushed = 0;
  #lastEpoch = -1;

  /**
   * Attaches to a ring from its handle, in any thread.
   *
   * @param handle The ring's `handle`.
   */
  constructor(handle: RingHandle) {
    this.handle = handle;
    this.ctl = new Int32Array(handle.control);
    this.stats64 = new Float64Array(handle.control);
    this.data = handle.data;
    this.bytes = new Uint8Array(0);
    this.words = new Uint32Array(0);
    this.#numbers = new Float64Array(0);
    this.#refreshViews();
  }

  /** Under a lock (capacity is stable): makes the views cover the current capacity. */
  #refreshViews(): void {
    const capacity = this.ctl[CTL_CAPACITY]!;
    if (this.bytes.length === capacity) return;
    this.bytes = new Uint8Array(this.data, 0, capacity);
    this.words = new Uint32Array(this.data, 0, capacity >> 2);
    this.#numbers = new Float64Array(this.data, 0, capacity >> 3);
  }

  /** Items currently held. */
  get length(): number {
    return this.#count();
  }

  /** Items held: popped is read first, so the difference is never negative. */
  #count(): number {
    const popped = Atomics.load(this.ctl, CTL_POPPED);
    return (Atomics.load(this.ctl, CTL_PUSHED) - popped) | 0;
  }

  /**
   * Consumer side: items available, loading the producers' line only when the cached PUSHED says
   * there are none. The cache is trusted while the push epoch is unchanged: then fewer than 2^30
   * pushes happened since it was loaded, and the wrapped difference has the right sign.
   */
  #available(): number {
    const ctl = this.ctl;
    // POPPED is read plainly (an atomic load a take saved): under the head lock it is exact, and
    // outside it a stale value is only smaller, so the count is an over-estimate that the take
    // checks again under the lock. The epoch load below keeps a polling loop from hoisting it.
    const popped = ctl[CTL_POPPED]!;
    const epoch = Atomics.load(ctl, CTL_PUSH_EPOCH);
    if (epoch === this.#seenEpoch) {
      const cached = (this.#seenPushed - popped) | 0;
      if (cached > 0) return cached;
    }
    this.#seenEpoch = epoch;
    this.#seenPushed = Atomics.load(ctl, CTL_PUSHED);
    if (Atomics.load(ctl, CTL_PUSH_EPOCH) !== epoch) this.#seenEpoch = -1;
    return (this.#seenPushed - popped) | 0;
  }

  /** Bytes held, read the same way. */
  #used(): number {
    const popped = Atomics.load(this.ctl, CTL_POPPED_BYTES);
    return (Atomics.load(this.ctl, CTL_PUSHED_BYTES) - popped) | 0;
  }

  /** Most items held at once, or 0 for no limit. */
  get maxItems(): number {
    return this.ctl[CTL_MAX_ITEMS]!;
  }

  /** Whether a put waits until a reader took its item (see FLAG_HAND_OFF). */
  get handsOff(): boolean {
    // Read plainly: the bit never changes after creation.
    return (this.ctl[CTL_FLAGS]! & FLAG_HAND_OFF) !== 0;
  }

  /** True once `stop()` was called. */
  get stopped(): boolean {
    return (Atomics.load(this.ctl, CTL_FLAGS) & FLAG_STOPPED) !== 0;
  }

  /** A consistent snapshot of the counters. */
  get stats(): RingStats {
    const ctl = this.ctl;
    criticalLock(ctl, CTL_TAIL_LOCK);
    try {
      criticalLock(ctl, CTL_HEAD_LOCK);
    } catch (error) {
      criticalUnlock(ctl, CTL_TAIL_LOCK);
      throw error;
    }
    const stats64 = this.stats64;
    const stats = {
      puts: stats64[STAT_PUTS]!,
      gets: stats64[STAT_GETS]!,
      evicted: stats64[STAT_EVICTED]!,
    };
    criticalUnlock(ctl, CTL_HEAD_LOCK);
    criticalUnlock(ctl, CTL_TAIL_LOCK);
    return stats;
  }

  /**
   * Flags the ring stopped and wakes every waiter. Takes still drain what is left.
   *
   * @returns False if it was already stopped.
   */
  stop(): boolean {
    const ctl = this.ctl;
    const was = Atomics.or(ctl, CTL_FLAGS, FLAG_STOPPED) & FLAG_STOPPED;
    Atomics.add(ctl, CTL_READ_SEQ, 1);
    Atomics.add(ctl, CTL_WRITE_SEQ, 1);
    Atomics.add(ctl, CTL_TAKEN_SEQ, 1);
    notify(ctl, CTL_READ_SEQ);
    notify(ctl, CTL_WRITE_SEQ);
    notify(ctl, CTL_TAKEN_SEQ);
    return was === 0;
  }

  /** Wakes every reader, as if an item had arrived, so that it re-checks its own conditions. */
  wakeReaders(): void {
    Atomics.add(this.ctl, CTL_READ_SEQ, 1);
    notify(this.ctl, CTL_READ_SEQ);
  }

  /**
   * Adds an encoded value without waiting.
   *
   * @param bytes The encoded value.
   * @param evict Whether to drop the oldest items to make room.
   * @param length How many bytes of `bytes` to add.
   * @returns PUT_DONE, PUT_FULL, PUT_STOPPED or PUT_TOO_LARGE.
   */
  tryPutBytes(bytes: Uint8Array, evict: boolean, length = bytes.length): number {
    return this.#putRecord(bytes, length, false, evict);
  }

  /**
   * Encodes and adds a value without waiting. A number goes as a block of one, with no codec.
   *
   * @returns PUT_DONE, PUT_FULL, PUT_STOPPED or PUT_TOO_LARGE.
   * @throws {TypeError} If the value cannot be sent.
   */
  tryPut(value: unknown, evict: boolean, what = "value"): number {
    if (typeof value === "number") {
      const one = Ring.#one;
      one.numbers[0] = value;
      return this.#putRecord(one.bytes, 8, true, evict, one.words);
    }
    const encoder = Encoder.get();
    const length = encoder.encodeLength(value, what);
    return this.#putRecord(encoder.buf, length, false, evict);
  }

  /** Adds one record (a codec payload, or a block of numbers) under the tail lock. */
  #putRecord(
    bytes: Uint8Array,
    length: number,
    numbers: boolean,
    evict: boolean,
    words?: Uint32Array,
  ): number {
    const ctl = this.ctl;
    criticalLock(ctl, CTL_TAIL_LOCK);
    let status: number;
    try {
      this.#refreshViews();
      status = this.#putLocked(bytes, 0, length, numbers, evict, words);
    } finally {
      criticalUnlock(ctl, CTL_TAIL_LOCK); // growing storage may throw (out of memory)
    }
    if (status === PUT_DONE) this.#notifyReaders(1);
    return status;
  }

  /**
   * Encodes and adds values in order under one hold of the tail lock, without waiting; waiting
   * readers are woken once. Runs of numbers go as blocks of float64s (no codec, one record per
   * run); every other value is encoded first, so one that cannot be sent adds none.
   *
   * @returns How many were added, and the status that stopped the rest (PUT_DONE if none did).
   * @throws {TypeError} If a value cannot be sent, naming `what[i]`; nothing is added.
   */
  tryPutMany(
    values: readonly unknown[] | NumberArray,
    evict: boolean,
    what = "values",
  ): { added: number; status: number } {
    const ctl = this.ctl;
    // A block must fit in an empty ring, by count and by bytes (its header and padding: 8).
    const maxItems = ctl[CTL_MAX_ITEMS]!;
    let blockItems = Math.min(BLOCK_MAX_ITEMS, (ctl[CTL_MAX_BYTES]! - 8) >> 3);
    if (maxItems > 0) blockItems = Math.min(blockItems, maxItems);
    const scratch = BatchScratch.get();
    scratch.busy = true;
    let added = 0;
    let status = PUT_DONE;
    try {
      Ring.#planBatch(scratch, values, blockItems, what);
      criticalLock(ctl, CTL_TAIL_LOCK);
      try {
        this.#refreshViews();
        ({ added, status } = this.#putBatchLocked(scratch, evict));
      } finally {
        criticalUnlock(ctl, CTL_TAIL_LOCK);
      }
    } finally {
      scratch.busy = false;
    }
    if (added > 0) this.#notifyReaders(added);
    return { added, status };
  }

  /** Under the tail lock: adds the records #planBatch laid out in `scratch`, in order. */
  #putBatchLocked(scratch: BatchScratch, evict: boolean): { added: number; status: number } {
    const { bytes, words, pieces } = scratch;
    let added = 0;
    let status = PUT_DONE;
    let at = 0;
    for (let p = 0; p < scratch.count; p++) {
      const piece = pieces[p]!;
      if (piece > 0) {
        at = align8(at); // as #planBatch placed it
        status = this.#putLocked(bytes, at, piece, false, evict, words);
        if (status !== PUT_DONE) break;
        added++;
        at += piece;
        continue;
      }
      at = align8(at);
      const count = -piece;
      status = this.#putLocked(bytes, at, 8 * count, true, evict, words);
      if (status === PUT_FULL && count > 1) {
        // The block does not fit whole: add what does, so the caller learns how many did.
        let i = 0;
        while (
          i < count && this.#putLocked(bytes, at + 8 * i, 8, true, evict, words) === PUT_DONE
        ) {
          i++;
        }
        added += i;
        break;
      }
      if (status !== PUT_DONE) break;
      added += count;
      at += 8 * count;
    }
    return { added, status };
  }

  /**
   * Outside any lock: writes every value into `scratch`, runs of numbers as 8-aligned float64s,
   * the rest encoded, and lists the records in `scratch.pieces` (`scratch.count` of them): a
   * payload's length, or minus the count of a block of numbers.
   */
  static #planBatch(
    scratch: BatchScratch,
    values: readonly unknown[] | NumberArray,
    blockItems: number,
    what: string,
  ): void {
    const pieces = scratch.pieces;
    let count = 0;
    let total = 0;
    if (!Array.isArray(values)) {
      // A typed array of numbers: blocks converted and copied by `set`, no loop in JavaScript.
      const numbers = values as NumberArray;
      for (let i = 0; i < numbers.length; i += blockItems) {
        const end = Math.min(numbers.length, i + blockItems);
        scratch.reserve(total + 8 * (end - i));
        scratch.numbers.set(numbers.subarray(i, end), total >> 3);
        pieces[count++] = i - end;
        total += 8 * (end - i);
      }
      scratch.count = count;
      return;
    }
    const encoder = Encoder.get();
    for (let i = 0; i < values.length;) {
      if (typeof values[i] === "number") {
        // One pass: copy numbers until a value that is not one, or a full block.
        const limit = Math.min(values.length, i + blockItems);
        total = align8(total);
        scratch.reserve(total + 8 * (limit - i));
        const f64 = scratch.numbers;
        const shift = (total >> 3) - i;
        let end = i;
        for (; end < limit; end++) {
          const value = values[end];
          if (typeof value !== "number") break;
          f64[shift + end] = value;
        }
        pieces[count++] = i - end;
        total += 8 * (end - i);
        i = end;
        continue;
      }
      // 8-aligned, as a large payload may be in the ring (see PAD_BIT), and with room for a
      // whole last word, so that #putLocked copies a small one in words.
      total = align8(total);
      const length = encoder.encodeLength(values[i], `${what}[${i}]`);
      scratch.reserve(total + align4(length));
      copyBytes(scratch.bytes, total, encoder.buf, 0, length);
      pieces[count++] = length;
      total += length;
      i++;
    }
    scratch.count = count;
  }

  /**
   * Adds a value, blocking while the ring is full (count or bytes); in a hand-off ring, then
   * until a reader took it.
   *
   * @returns PUT_DONE, PUT_STOPPED, PUT_TOO_LARGE or PUT_TIMED_OUT (no room in time), or
   * PUT_NOT_TAKEN (a hand-off ring's item not taken in time).
   */
  put(value: unknown, timeout?: number, what = "value"): number {
    // The common case first: room at once, encoded in place.
    const first = this.tryPut(value, false, what);
    if (first === PUT_DONE && this.handsOff) {
      return this.#waitTaken(this.#lastPushed, deadlineOf(timeout));
    }
    if (first !== PUT_FULL) return first;
    // Copy: a blocked put must not hold the thread's shared encoder.
    const bytes = Encoder.get().encode(value, what).slice();
    const deadline = deadlineOf(timeout);
    let registered: number | undefined; // see #putOrRegister
    for (;;) {
      const status = this.#putOrRegister(bytes, deadline, registered);
      if (status === PUT_DONE && this.handsOff) {
        return this.#waitTaken(this.#lastPushed, deadline);
      }
      if (status !== MUST_WAIT) return status;
      registered = this.#waitPopped;
      try {
        waitSync(this.ctl, CTL_WRITE_SEQ, this.#waitSeq, remaining(deadline));
      } catch (error) {
        this.#passWake(); // killed as it woke, maybe by the take meant for it
        throw error;
      } finally {
        Atomics.sub(this.ctl, CTL_WRITERS, 1);
      }
    }
  }

  /**
   * Adds `bytes` if there is room; else registers as a waiting writer (see the class comment).
   *
   * A writer woken from that wait hands one wake-up on (`#passWake`) once it has tried: whether
   * it put (the room left may fit the next writer), cannot put at all (stopped, too large), or
   * found no room for its record, since the room freed may fit a smaller one behind it. In that
   * last case only if something was taken since it registered: a writer woken with nothing freed
   * since does not, so a wake-up handed on goes round the waiting writers at most once.
   *
   * @param registered CTL_POPPED when the caller registered for the wait it woke from
   * (`#waitPopped`); undefined on the first call.
   * @returns A put status, or MUST_WAIT (registered: sleep on #waitSeq, then unregister).
   */
  #putOrRegister(
    bytes: Uint8Array,
    deadline: number,
    registered: number | undefined,
  ): number | typeof MUST_WAIT {
    const ctl = this.ctl;
    if (ctl[CTL_FLAGS]! & FLAG_WRITERS_NEVER_WAIT) {
      throw new Error("Cannot wait for room as this ring's takes never wake writers");
    }
    for (;;) {
      const status = this.tryPutBytes(bytes, false);
      if (registered !== undefined) {
        if (status !== PUT_FULL || Atomics.load(ctl, CTL_POPPED) !== registered) this.#passWake();
        registered = undefined;
      }
      if (status !== PUT_FULL) return status;
      if (remaining(deadline) === 0) return PUT_TIMED_OUT;
      if (this.#spinWhileFull()) continue;
      if (!this.#registerUnlessRoom(bytes.length)) return MUST_WAIT;
    }
  }

  /**
   * Polls the item count SPIN_POLLS times: a streaming reader usually makes room by then,
   * and sleeping instead would make both sides pay a futex wake-up per item.
   *
   * @returns True if an item was taken meanwhile (try again), false to register and sleep.
   */
  #spinWhileFull(): boolean {
    const ctl = this.ctl;
    const before = Atomics.load(ctl, CTL_POPPED);
    for (let i = 0; i < SPIN_POLLS; i++) {
      if (Atomics.load(ctl, CTL_POPPED) !== before) return true;
      if (Atomics.load(ctl, CTL_FLAGS) & FLAG_STOPPED) return true;
    }
    return false;
  }

  /** `put` without blocking the event loop. */
  async putAsync(
    value: unknown,
    timeout?: number,
    signal?: AbortSignal,
    what = "value",
  ): Promise<number> {
    signal?.throwIfAborted();
    const first = this.tryPut(value, false, what);
    // The ticket is read at once: another put of this instance may run while this one waits.
    if (first === PUT_DONE && this.handsOff) {
      return this.#waitTakenAsync(this.#lastPushed, deadlineOf(timeout), signal);
    }
    if (first !== PUT_FULL) return first;
    // Copy: the encoder's scratch is reused by the next encode while this call waits.
    const bytes = Encoder.get().encode(value, what).slice();
    const deadline = deadlineOf(timeout);
    let registered: number | undefined; // see #putOrRegister
    for (;;) {
      const status = this.#putOrRegister(bytes, deadline, registered);
      if (status === PUT_DONE && this.handsOff) {
        return this.#waitTakenAsync(this.#lastPushed, deadline, signal);
      }
      if (status !== MUST_WAIT) return status;
      registered = this.#waitPopped;
      // Aborted after the take meant for it woke it: waitAsync hands that wake-up on itself.
      try {
        await waitAsync(this.ctl, CTL_WRITE_SEQ, this.#waitSeq, remaining(deadline), signal);
      } finally {
        Atomics.sub(this.ctl, CTL_WRITERS, 1);
      }
    }
  }

  /**
   * A hand-off put's second half: waits until a reader took the item put with `ticket` (PUSHED
   * right after that put). If the ring is stopped or the deadline passes first, or the wait
   * throws (the thread is being terminated), takes the item back, unless a reader was first.
   *
   * @returns PUT_DONE (taken), PUT_STOPPED or PUT_NOT_TAKEN (taken back).
   */
  #waitTaken(ticket: number, deadline: number): number {
    const ctl = this.ctl;
    for (;;) {
      // Each round checks taken, stopped and the deadline afresh: what the wait returned ("ok",
      // "not-equal", "timed-out") adds nothing to that.
      const state = this.#registerUnlessTaken(ticket, deadline);
      if (state !== MUST_WAIT) return state;
      try {
        waitSync(ctl, CTL_TAKEN_SEQ, this.#waitSeq, remaining(deadline));
      } catch (error) {
        // Killed: the one way this wait throws. The write fails either way, so whether a reader
        // was first does not change what it throws.
        this.#takeBack(ticket, Termination.requested());
        throw error;
      } finally {
        Atomics.sub(ctl, CTL_HANDERS, 1);
      }
    }
  }

  /** `#waitTaken` without blocking the event loop; an abort takes the item back, then rejects. */
  async #waitTakenAsync(
    ticket: number,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    const ctl = this.ctl;
    for (;;) {
      const state = this.#registerUnlessTaken(ticket, deadline); // as in #waitTaken
      if (state !== MUST_WAIT) return state;
      try {
        await waitAsync(ctl, CTL_TAKEN_SEQ, this.#waitSeq, remaining(deadline), signal);
      } catch (error) {
        if (this.#takeBack(ticket)) throw error;
        return PUT_DONE; // a reader took it before the abort was seen: the put is complete
      } finally {
        Atomics.sub(ctl, CTL_HANDERS, 1);
      }
    }
  }

  /**
   * Registers as a writer waiting for its item to be taken, then checks (see CTL_HANDERS).
   *
   * @returns MUST_WAIT (registered: sleep on #waitSeq, then unregister), PUT_DONE (taken), or
   * PUT_STOPPED / PUT_NOT_TAKEN once the item was taken back (PUT_DONE if a reader was first).
   */
  #registerUnlessTaken(ticket: number, deadline: number): number | typeof MUST_WAIT {
    const ctl = this.ctl;
    Atomics.add(ctl, CTL_HANDERS, 1);
    this.#waitSeq = Atomics.load(ctl, CTL_TAKEN_SEQ);
    let state: number | typeof MUST_WAIT = MUST_WAIT;
    if (((Atomics.load(ctl, CTL_POPPED) - ticket) | 0) >= 0) state = PUT_DONE;
    else if (Atomics.load(ctl, CTL_FLAGS) & FLAG_STOPPED) state = PUT_STOPPED;
    else if (remaining(deadline) === 0) state = PUT_NOT_TAKEN;
    if (state === MUST_WAIT) return MUST_WAIT;
    Atomics.sub(ctl, CTL_HANDERS, 1);
    if (state === PUT_DONE || this.#takeBack(ticket)) return state;
    return PUT_DONE;
  }

  /**
   * Removes a hand-off put's item if no reader took it yet. It is then the head: the ring holds
   * one item at most, so none was put behind it.
   *
   * @param killed True on the way out of a wait the kill interrupted: then the lock is taken
   * although this worker is being terminated (see `criticalLockAnyway`; safe only there, in
   * the same synchronous run as the wait, before the worker can answer KILL_DONE). Anywhere else
   * a kill makes `criticalLock` throw first, and the item stays, to be read.
   * @returns True if taken back, false if a reader was first.
   */
  #takeBack(ticket: number, killed = false): boolean {
    const ctl = this.ctl;
    if (killed) criticalLockAnyway(ctl, CTL_HEAD_LOCK);
    else criticalLock(ctl, CTL_HEAD_LOCK);
    try {
      // Exact under the head lock, which every take holds while it advances POPPED.
      if (((ctl[CTL_POPPED]! - ticket) | 0) >= 0) return false;
      this.#refreshViews();
      const head = ctl[CTL_HEAD]!;
      this.#dropHeadLocked(head, this.words[head >> 2]!, 1);
    } finally {
      criticalUnlock(ctl, CTL_HEAD_LOCK);
    }
    this.#wakeWriters(1);
    return true;
  }

  /**
   * Removes the oldest value without waiting.
   *
   * @returns The value, NOTHING if empty, ENDED if empty and stopped.
   */
  tryTake(): unknown {
    const result = this.#tryTake();
    if (result !== NOTHING) return result;
    return this.stopped && this.#count() === 0 ? ENDED : NOTHING;
  }

  /**
   * Removes the oldest value, blocking until there is one.
   *
   * @param timeout Milliseconds to wait at most; no limit if undefined.
   * @param poll Whether to poll before sleeping (SPIN_POLLS, tens of microseconds): not on one
   * core, where the thread that would put cannot run while this one polls.
   * @returns The value, ENDED if stopped and drained, TIMED_OUT on timeout.
   */
  take(timeout?: number, poll = true): unknown {
    const first = this.#tryTake(); // the common case, without the waiting loop's closure
    if (first !== NOTHING) return first;
    return this.#takeWaiting(() => this.#tryTake(), timeout, poll);
  }

  /**
   * Removes up to `max` values at once, blocking until there is at least one: one lock hold and
   * one wake-up of waiting writers for the whole batch.
   *
   * @returns The values (at least one), ENDED if stopped and drained, TIMED_OUT on timeout.
   */
  takeBatch(max: number, timeout?: number): unknown[] | typeof ENDED | typeof TIMED_OUT {
    const first = this.#tryTakeBatch(max); // the common case, as in `take`
    if (first !== NOTHING) return first as unknown[];
    return this.#takeWaiting(() => this.#tryTakeBatch(max), timeout, true) as
      | unknown[]
      | typeof ENDED
      | typeof TIMED_OUT;
  }

  /** `take` without blocking the event loop. */
  takeAsync(timeout?: number, signal?: AbortSignal): Promise<unknown> {
    return this.#takeWaitingAsync(() => this.#tryTake(), timeout, signal);
  }

  /** `takeBatch` without blocking the event loop. */
  takeBatchAsync(
    max: number,
    timeout?: number,
    signal?: AbortSignal,
  ): Promise<unknown[] | typeof ENDED | typeof TIMED_OUT> {
    return this.#takeWaitingAsync(() => this.#tryTakeBatch(max), timeout, signal) as Promise<
      unknown[] | typeof ENDED | typeof TIMED_OUT
    >;
  }

  /** Up to `max` values now, or NOTHING. */
  #tryTakeBatch(max: number): unknown {
    const values = this.takeMany(max);
    return values.length > 0 ? values : NOTHING;
  }

  /** Calls `grab` until it returns something, sleeping while the ring is empty. */
  #takeWaiting(grab: () => unknown, timeout: number | undefined, poll: boolean): unknown {
    const deadline = deadlineOf(timeout);
    for (;;) {
      const result = grab();
      if (result !== NOTHING) return result;
      if (poll && this.#spinWhileEmpty()) continue;
      const state = this.#registerUnlessReadable(deadline);
      if (state === MUST_WAIT) {
        try {
          waitSync(this.ctl, CTL_READ_SEQ, this.#waitSeq, remaining(deadline));
        } finally {
          Atomics.sub(this.ctl, CTL_READERS, 1);
        }
      } else if (state !== NOTHING) {
        return state;
      }
    }
  }

  /** `#takeWaiting` without blocking the event loop. */
  async #takeWaitingAsync(
    grab: () => unknown,
    timeout: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    signal?.throwIfAborted();
    const deadline = deadlineOf(timeout);
    for (;;) {
      const result = grab();
      if (result !== NOTHING) return result;
      const state = this.#registerUnlessReadable(deadline);
      if (state === MUST_WAIT) {
        try {
          await waitAsync(this.ctl, CTL_READ_SEQ, this.#waitSeq, remaining(deadline), signal);
        } finally {
          Atomics.sub(this.ctl, CTL_READERS, 1);
        }
      } else if (state !== NOTHING) {
        return state;
      }
    }
  }

  /**
   * Removes up to `max` values at once, without waiting.
   *
   * @returns The values, oldest first (empty if there are none).
   */
  takeMany(max = Infinity): unknown[] {
    const ctl = this.ctl;
    // Numbers are read straight from the ring into the result under the lock (as float64s: see
    // PAD_BIT); codec records are copied to the scratch buffer, each at an 8-aligned offset, and
    // decoded after the lock is released. `pieces` lists those records as (payload length, slot
    // in the result) pairs. One list per ring, reused: decoding runs no code of the caller's, so
    // no other takeMany of this ring runs before this one is done with it. Counted, not
    // truncated (see releaseList in _codec.ts).
    const pieces = this.#pieces;
    let count = 0;
    let taken = 0;
    let values: unknown[];
    criticalLock(ctl, CTL_HEAD_LOCK);
    try {
      this.#refreshViews();
      // Under the head lock the count is exact, or low by puts made since: these are there.
      const wanted = Math.min(max, this.#count());
      values = new Array<unknown>(wanted);
      let total = 0;
      while (taken < wanted) {
        total = align8(total);
        const piece = this.#takeHeadLocked(values, taken, wanted - taken, total);
        if (piece < 0) {
          taken -= piece;
          continue;
        }
        pieces[count++] = piece;
        pieces[count++] = taken++;
        total += piece;
      }
    } finally {
      criticalUnlock(ctl, CTL_HEAD_LOCK); // the scratch buffer's growth may throw
    }
    if (taken > 0) this.#wakeWriters(taken);
    const out = this.#out;
    let at = 0;
    for (let p = 0; p < count; p += 2) {
      at = align8(at);
      values[pieces[p + 1]!] = Decoder.get().decodeAt(out, at);
      at += pieces[p]!;
    }
    // Numbers only, so its slots need no clearing; a huge batch's list is not kept for good.
    if (pieces.length > LIST_KEEP_MAX) pieces.length = 0;
    return values;
  }

  /**
   * Under the head lock: moves up to `max` numbers of the head block (at `head`, with `header`)
   * into `values` from `slot`, and drops them.
   *
   * @returns How many were moved.
   */
  #takeNumbersLocked(
    head: number,
    header: number,
    values: unknown[],
    slot: number,
    max: number,
  ): number {
    const ctl = this.ctl;
    const skip = ctl[CTL_HEAD_SKIP]!;
    const count = Math.min(max, numbersIn(header) - skip);
    const capacity = ctl[CTL_CAPACITY]!;
    let at = payloadAt(head, header) + 8 * skip;
    if (at >= capacity) at -= capacity;
    if ((at & 7) !== 0) {
      values[slot] = this.#numberAt(at); // a single number, unpadded (see PAD_BIT)
    } else {
      // In float64s: the block starts 8-aligned and the capacity is a multiple of 8, so a block
      // that wraps around the end does so between two numbers.
      const numbers = this.#numbers;
      const from = at >> 3;
      const first = Math.min(count, (capacity >> 3) - from);
      for (let i = 0; i < first; i++) values[slot + i] = numbers[from + i];
      for (let i = first; i < count; i++) values[slot + i] = numbers[i - first];
    }
    this.#dropHeadLocked(head, header, count);
    this.stats64[STAT_GETS]! += count;
    return count;
  }

  /**
   * Reads the newest or oldest value without removing it.
   *
   * @returns The value, or NOTHING if empty.
   */
  peek(newest: boolean): unknown {
    const ctl = this.ctl;
    // The newest record cannot be overwritten while producers are locked out; the oldest cannot
    // be taken or evicted while consumers are.
    const which = newest ? CTL_TAIL_LOCK : CTL_HEAD_LOCK;
    criticalLock(ctl, which);
    try {
      this.#refreshViews();
      if (this.#count() === 0) return NOTHING;
      const at = newest ? ctl[CTL_LAST]! : ctl[CTL_HEAD]!;
      const header = this.words[at >> 2]!;
      if (header >= NUMBERS_BIT) {
        const index = newest ? numbersIn(header) - 1 : ctl[CTL_HEAD_SKIP]!;
        let number = payloadAt(at, header) + 8 * index;
        if (number >= ctl[CTL_CAPACITY]!) number -= ctl[CTL_CAPACITY]!;
        return this.#numberAt(number);
      }
      this.#reserveOut(header & LENGTH_MASK);
      this.#copyOut(payloadAt(at, header), header & LENGTH_MASK, 0);
    } finally {
      criticalUnlock(ctl, which);
    }
    return Decoder.get().decodeAt(this.#out, 0);
  }

  /**
   * The number at byte `at` (wrapped): as a float64 if 8-aligned, else (a single number's
   * unpadded block) from its two words, the second maybe at the storage's start.
   */
  #numberAt(at: number): number {
    if ((at & 7) === 0) return this.#numbers[at >> 3]!;
    const word = at >> 2;
    const pair = Ring.#pair;
    pair.words[0] = this.words[word]!;
    pair.words[1] = this.words[word + 1 === this.words.length ? 0 : word + 1]!;
    return pair.number[0]!;
  }

  /** Takes the head item into the scratch buffer and decodes it, or returns NOTHING. */
  #tryTake(): unknown {
    const ctl = this.ctl;
    if (this.#available() <= 0) return NOTHING;
    let piece: number;
    criticalLock(ctl, CTL_HEAD_LOCK);
    try {
      // Under the head lock POPPED is read plainly, and the PUSHED #available just saw is a
      // lower bound: only when it says empty (another consumer was first) is it checked again.
      if (((this.#seenPushed - ctl[CTL_POPPED]!) | 0) <= 0 && this.#available() <= 0) {
        return NOTHING;
      }
      this.#refreshViews();
      piece = this.#takeHeadLocked(this.#taken, 0, 1, 0);
    } finally {
      criticalUnlock(ctl, CTL_HEAD_LOCK);
    }
    this.#wakeWriters(1);
    // `#taken` only ever holds a number: nothing to clear.
    return piece < 0 ? this.#taken[0] : Decoder.get().decodeAt(this.#out, 0);
  }

  /**
   * Under the head lock: takes up to `max` items of the head record. Numbers go straight into
   * `values` from `slot` (see #takeNumbersLocked); a codec record's payload (its one value) is
   * copied to the scratch buffer at `offset` (8-aligned), to be decoded once the lock is released.
   *
   * @returns Minus the count of numbers taken, or the payload's length (a codec record).
   */
  #takeHeadLocked(values: unknown[], slot: number, max: number, offset: number): number {
    const ctl = this.ctl;
    const head = ctl[CTL_HEAD]!;
    const header = this.words[head >> 2]!;
    if (header >= NUMBERS_BIT) {
      return -this.#takeNumbersLocked(head, header, values, slot, max);
    }
    const length = header & LENGTH_MASK;
    this.#reserveOut(offset + length);
    this.#copyOut(payloadAt(head, header), length, offset);
    this.#dropHeadLocked(head, header, 1);
    this.stats64[STAT_GETS]! += 1;
    return length;
  }

  /**
   * Under the head lock: removes `count` items of the head record (1 for a codec record), and
   * the record itself once none is left, publishing the freed space.
   */
  #dropHeadLocked(head: number, header: number, count: number): void {
    const ctl = this.ctl;
    if (header >= NUMBERS_BIT) {
      const skip = ctl[CTL_HEAD_SKIP]! + count;
      if (skip < numbersIn(header)) {
        ctl[CTL_HEAD_SKIP] = skip;
        ctl[CTL_POPPED] = (ctl[CTL_POPPED]! + count) | 0;
        return;
      }
      ctl[CTL_HEAD_SKIP] = 0;
    }
    const size = recordBytes(header);
    const next = head + size;
    const capacity = ctl[CTL_CAPACITY]!;
    ctl[CTL_HEAD] = next >= capacity ? next - capacity : next;
    // Publish the freed space: the copy-out is complete before producers see it. POPPED may be
    // a plain store: a producer that reads it late sees a fuller ring, and the head lock's
    // release (an atomic read-modify-write) orders it before any waiting writer is checked for.
    Atomics.store(ctl, CTL_POPPED_BYTES, (ctl[CTL_POPPED_BYTES]! + size) | 0);
    ctl[CTL_POPPED] = (ctl[CTL_POPPED]! + count) | 0;
  }

  /**
   * After a put of `count` items: wakes as many sleeping readers, if any registered (see the
   * class comment); in a single-reader ring, only if its wake-up is still armed.
   */
  #notifyReaders(count: number): void {
    const ctl = this.ctl;
    if (Atomics.load(ctl, CTL_READERS) === 0) return;
    if ((ctl[CTL_FLAGS]! & FLAG_SINGLE_READER) && Atomics.exchange(ctl, CTL_ARMED, 0) === 0) return;
    Atomics.add(ctl, CTL_READ_SEQ, 1);
    notify(ctl, CTL_READ_SEQ, count);
  }

  /**
   * After a take of `freed` items: wakes as many waiting writers. Waking every writer on each
   * take made N writers waiting on a full ring quadratic (each take woke all N and one got the
   * room: 1000 async writers on a one-item channel took 12 s). Room a woken writer leaves unused
   * (it fit more than one record, its record did not fit, or the writer gave up) is handed on by
   * `#passWake`.
   */
  #wakeWriters(freed: number): void {
    const ctl = this.ctl;
    // FLAGS is read plainly: these bits never change after creation.
    const flags = ctl[CTL_FLAGS]!;
    if (flags & FLAG_WRITERS_NEVER_WAIT) return;
    if (Atomics.load(ctl, CTL_WRITERS) > 0) {
      Atomics.add(ctl, CTL_WRITE_SEQ, 1);
      notify(ctl, CTL_WRITE_SEQ, freed);
    }
    if ((flags & FLAG_HAND_OFF) && Atomics.load(ctl, CTL_HANDERS) > 0) {
      Atomics.add(ctl, CTL_TAKEN_SEQ, 1);
      notify(ctl, CTL_TAKEN_SEQ);
    }
  }

  /**
   * Called by a writer that was woken, once it has tried (its value put, its record too large for
   * the room, or giving up): wakes one more waiting writer if there is still room, so that no
   * room is left with writers asleep. A take wakes as many writers as items it freed; the room
   * may fit more (a large record freed), or the writer it woke may not use it (its record does
   * not fit, it timed out, its thread is being killed). An async wait aborted after it was woken
   * needs none of this: `waitAsync` hands the wake-up on itself.
   */
  #passWake(): void {
    const ctl = this.ctl;
    // Room for the smallest record (its 4-byte header alone): a writer woken with less would
    // only find no room and wait again.
    if (Atomics.load(ctl, CTL_WRITERS) === 0 || !this.#roomFor(0)) return;
    Atomics.add(ctl, CTL_WRITE_SEQ, 1);
    notify(ctl, CTL_WRITE_SEQ, 1);
  }

  /**
   * Polls for an item SPIN_POLLS times; true if one appeared. A stop ends the polling
   * with false, so that the caller's registration step reports it.
   */
  #spinWhileEmpty(): boolean {
    const ctl = this.ctl;
    for (let i = 0; i < SPIN_POLLS; i++) {
      if (this.#available() > 0) return true;
      if (Atomics.load(ctl, CTL_FLAGS) & FLAG_STOPPED) return false;
    }
    return false;
  }

  /**
   * Registers as a reader, then checks again (see the class comment).
   *
   * @returns MUST_WAIT (registered: sleep on #waitSeq, then unregister), NOTHING (an item
   * arrived: try again), ENDED or TIMED_OUT.
   */
  #registerUnlessReadable(deadline: number): unknown {
    const ctl = this.ctl;
    Atomics.add(ctl, CTL_READERS, 1);
    if (ctl[CTL_FLAGS]! & FLAG_SINGLE_READER) Atomics.store(ctl, CTL_ARMED, 1);
    this.#waitSeq = Atomics.load(ctl, CTL_READ_SEQ);
    if (this.#count() > 0) {
      Atomics.sub(ctl, CTL_READERS, 1);
      return NOTHING;
    }
    if (Atomics.load(ctl, CTL_FLAGS) & FLAG_STOPPED) {
      Atomics.sub(ctl, CTL_READERS, 1);
      return ENDED;
    }
    if (remaining(deadline) === 0) {
      Atomics.sub(ctl, CTL_READERS, 1);
      return TIMED_OUT;
    }
    return MUST_WAIT;
  }

  /**
   * Whether a `length`-byte record fits now or once the storage grows: under the item limit and
   * the bytes allowed. The writers' side of waiting (the put's own check is `#hasRoom`).
   */
  #roomFor(length: number): boolean {
    const ctl = this.ctl;
    const maxItems = ctl[CTL_MAX_ITEMS]!;
    if (maxItems !== 0 && this.#count() >= maxItems) return false;
    return this.#used() + 4 + align4(length) <=
      Math.max(Atomics.load(ctl, CTL_CAPACITY), ctl[CTL_MAX_BYTES]!);
  }

  /**
   * Registers as a writer, then checks again for room for a `length`-byte record.
   *
   * @returns True if there is room (not registered: try again), false if registered.
   */
  #registerUnlessRoom(length: number): boolean {
    const ctl = this.ctl;
    Atomics.add(ctl, CTL_WRITERS, 1);
    this.#waitSeq = Atomics.load(ctl, CTL_WRITE_SEQ);
    this.#waitPopped = Atomics.load(ctl, CTL_POPPED);
    if (this.#roomFor(length) || (Atomics.load(ctl, CTL_FLAGS) & FLAG_STOPPED)) {
      Atomics.sub(ctl, CTL_WRITERS, 1);
      return true;
    }
    return false;
  }

  /**
   * Under the tail lock: makes room as allowed, then writes and publishes the record: `length`
   * bytes of `bytes` from `from`, a codec payload or (`numbers`) a block of float64s.
   */
  #putLocked(
    bytes: Uint8Array,
    from: number,
    length: number,
    numbers: boolean,
    evict: boolean,
    words?: Uint32Array,
  ): number {
    const ctl = this.ctl;
    // The tail does not move while this producer holds the tail lock (making room moves the
    // head), so neither does the padding a block of numbers needs to start 8-aligned.
    const tail = ctl[CTL_TAIL]!;
    const items = numbers ? length >> 3 : 1;
    let pad = (tail & 7) === 0 && (numbers ? length > 8 : length > WORD_COPY_MAX_BYTES);
    // FLAGS, limits and CAPACITY are read plainly: limits never change, CAPACITY only under
    // both locks, and a stop racing with this put may land either side of it.
    if (ctl[CTL_FLAGS]! & FLAG_STOPPED) return PUT_STOPPED;
    // A codec payload is padded only where it fits as it is: a faster copy is not worth an
    // eviction, a growth or a refusal, and readers copy it either way. A block of two or more
    // numbers always starts 8-aligned (it is read as float64s); tryPutMany sizes blocks so that
    // one fits padded in an empty ring.
    if (pad && !numbers && !this.#hasRoom(8 + align4(length), items)) pad = false;
    // recordBytes of the header below, from the length: a header of numbers is above 2^31 (no
    // small integer), and reading its bits here cost a put about 3 ns (0824ad2).
    const need = (pad ? 8 : 4) + align4(length);
    if (need > ctl[CTL_MAX_BYTES]!) return PUT_TOO_LARGE;
    if (!this.#hasRoom(need, items) && !this.#makeRoom(need, items, evict)) return PUT_FULL;
    const capacity = ctl[CTL_CAPACITY]!;
    const header = (numbers ? NUMBERS_BIT : 0) + (pad ? PAD_BIT : 0) + length;
    this.words[tail >> 2] = header;
    let start = payloadAt(tail, header);
    if (start >= capacity) start -= capacity;
    const first = Math.min(length, capacity - start);
    const target = this.bytes;
    if (words !== undefined && length <= WORD_COPY_MAX_BYTES) {
      // From a scratch block (`words` views `bytes`), where numbers and a batch's records sit
      // 4-aligned with room for a whole last word, to a payload that starts 4-aligned and is
      // padded to 4 (a wrapped one's first part ends at the capacity, a multiple of 4): copied
      // a word at a time.
      copyWords(this.words, start >> 2, words, from >> 2, align4(first) >> 2);
      if (first < length) {
        copyWords(this.words, 0, words, (from + first) >> 2, align4(length - first) >> 2);
      }
    } else {
      copyBytes(target, start, bytes, from, first);
      if (first < length) copyBytes(target, 0, bytes, from + first, length - first);
    }
    ctl[CTL_LAST] = tail;
    const next = tail + need;
    ctl[CTL_TAIL] = next >= capacity ? next - capacity : next;
    this.stats64[STAT_PUTS]! += items;
    // Publish: the record's bytes are visible to whoever reads the new PUSHED. PUSHED_BYTES
    // is only read by producers, under the tail lock or before registering as a waiter.
    ctl[CTL_PUSHED_BYTES] = (ctl[CTL_PUSHED_BYTES]! + need) | 0;
    const before = ctl[CTL_PUSHED]!;
    const pushed = (before + items) | 0;
    if (before >>> 30 !== pushed >>> 30) Atomics.add(ctl, CTL_PUSH_EPOCH, 1);
    Atomics.store(ctl, CTL_PUSHED, pushed);
    this.#lastPushed = pushed;
    this.#lastEpoch = ctl[CTL_PUSH_EPOCH]!;
    return PUT_DONE;
  }

  /**
   * Under the tail lock, the fast check: room for `items` more in a `need`-byte record? The
   * consumers' counters are cached while this instance is the only producer since it loaded
   * them (PUSHED and the epoch are what it left): then the cached used bytes and count stay
   * bounded by the capacity this check enforces, and a stale cache only makes the ring look
   * fuller. Loading them each time would take the consumers' cache line on every put.
   */
  #hasRoom(need: number, items: number): boolean {
    const ctl = this.ctl;
    const pushed = ctl[CTL_PUSHED]!;
    const epoch = ctl[CTL_PUSH_EPOCH]!;
    if (pushed === this.#lastPushed && epoch === this.#lastEpoch && this.#fits(need, items)) {
      return true;
    }
    this.#seenPoppedBytes = Atomics.load(ctl, CTL_POPPED_BYTES);
    this.#seenPopped = Atomics.load(ctl, CTL_POPPED);
    this.#lastPushed = pushed;
    this.#lastEpoch = epoch;
    return this.#fits(need, items);
  }

  /** Under the tail lock: room for `items` more in a `need`-byte record, by the cached counters. */
  #fits(need: number, items: number): boolean {
    const ctl = this.ctl;
    const maxItems = ctl[CTL_MAX_ITEMS]!;
    const used = (ctl[CTL_PUSHED_BYTES]! - this.#seenPoppedBytes) | 0;
    return used >= 0 && used + need <= ctl[CTL_CAPACITY]! &&
      (maxItems === 0 || ((ctl[CTL_PUSHED]! - this.#seenPopped) | 0) + items <= maxItems);
  }

  /**
   * Under the tail lock, the exact path: with the head lock too, both ends are still, so grow,
   * evict (if allowed; numbers of a block one count at a time) or give up on exact counts.
   *
   * @returns True if there is room now.
   */
  #makeRoom(need: number, items: number, evict: boolean): boolean {
    const ctl = this.ctl;
    const maxItems = ctl[CTL_MAX_ITEMS]!;
    criticalLock(ctl, CTL_HEAD_LOCK);
    try {
      for (;;) {
        const count = this.#count();
        const used = this.#used();
        const itemsFit = maxItems === 0 || count + items <= maxItems;
        const bytesFit = used + need <= ctl[CTL_CAPACITY]!;
        if (itemsFit && bytesFit) return true;
        if (itemsFit && ctl[CTL_CAPACITY]! < ctl[CTL_MAX_BYTES]!) {
          this.#growLocked(used + need);
        } else if (evict && count > 0) {
          const head = ctl[CTL_HEAD]!;
          const header = this.words[head >> 2]!;
          let drop = 1;
          if (header >= NUMBERS_BIT) {
            const left = numbersIn(header) - ctl[CTL_HEAD_SKIP]!;
            drop = itemsFit ? left : Math.min(left, count + items - maxItems);
          }
          this.#dropHeadLocked(head, header, drop);
          this.stats64[STAT_EVICTED]! += drop;
        } else {
          return false;
        }
      }
    } finally {
      criticalUnlock(ctl, CTL_HEAD_LOCK);
    }
  }

  #reserveOut(length: number): void {
    if (this.#out.length >= length) return;
    const out = new Uint8Array(align8(Math.max(length, this.#out.length * 2)));
    out.set(this.#out);
    this.#out = out;
    this.#out32 = new Uint32Array(out.buffer);
  }

  /**
   * Copies `length` payload bytes starting at `at` (may be past the end: wraps) to the scratch at
   * `offset` (8-aligned). Up to WORD_COPY_MAX_BYTES go a word at a time: a payload starts
   * 4-aligned, a record is padded to 4 bytes (so is the scratch), and a wrapped payload's first
   * part ends at the capacity, a multiple of 4.
   */
  #copyOut(at: number, length: number, offset: number): void {
    const capacity = this.ctl[CTL_CAPACITY]!;
    const start = at >= capacity ? at - capacity : at;
    const first = Math.min(length, capacity - start);
    if (length <= WORD_COPY_MAX_BYTES) {
      const out32 = this.#out32;
      copyWords(out32, offset >> 2, this.words, start >> 2, align4(first) >> 2);
      if (first < length) {
        copyWords(out32, (offset + first) >> 2, this.words, 0, align4(length - first) >> 2);
      }
      return;
    }
    const out = this.#out;
    out.set(this.bytes.subarray(start, start + first), offset);
    if (first < length) out.set(this.bytes.subarray(0, length - first), offset + first);
  }

  /**
   * Under both locks: grows the byte storage toward `needed`, within `maxBytes`. When the content
   * wraps (or ends exactly at the old end), the part from the head to the old end moves to the
   * new end, so that the ring reads head → end → 0 → tail again.
   */
  #growLocked(needed: number): void {
    const ctl = this.ctl;
    const old = ctl[CTL_CAPACITY]!;
    let size = old * 2;
    while (size < needed) size *= 2;
    size = Math.min(size, ctl[CTL_MAX_BYTES]!);
    this.data.grow(size);
    Atomics.store(ctl, CTL_CAPACITY, size);
    this.#refreshViews();
    const head = ctl[CTL_HEAD]!;
    const tail = ctl[CTL_TAIL]!;
    if (this.#used() > 0 && tail <= head) {
      const shift = size - old;
      this.bytes.copyWithin(head + shift, head, old);
      ctl[CTL_HEAD] = head + shift;
      if (ctl[CTL_LAST]! >= head) ctl[CTL_LAST] = ctl[CTL_LAST]! + shift;
    }
  }
}
