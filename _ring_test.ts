// Tests of the shared ring every queue, channel, call queue and pool builds on.
import assert from "node:assert/strict";
import {
  align4,
  CTL_LAST,
  CTL_WRITERS,
  ENDED,
  NOTHING,
  payloadAt,
  PUT_DONE,
  PUT_FULL,
  PUT_STOPPED,
  PUT_TIMED_OUT,
  PUT_TOO_LARGE,
  Ring,
  TIMED_OUT,
} from "./_ring.ts";
import { Encoder } from "./_codec.ts";
import { countWaits } from "./testdata/wait_count.ts";
import { waitFor, within } from "./testdata/within.ts";

Deno.test("Ring keeps records in order, whatever their size", async (t) => {
  await t.step("mixed sizes wrap around and grow the storage", () => {
    const ring = Ring.create({ initialBytes: 64, maxBytes: 1 << 20 });
    const values: unknown[] = [];
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 7; i++) {
        const value = i % 3 === 0 ? "x".repeat(round * 13 + i) : { round, i, list: [i, round] };
        values.push(value);
        assert.equal(ring.tryPut(value, false), PUT_DONE);
      }
      for (let i = 0; i < 5; i++) assert.deepEqual(ring.tryTake(), values.shift());
    }
    assert.deepEqual(ring.takeMany(), values);
    assert.equal(ring.length, 0);
    assert.equal(ring.tryTake(), NOTHING);
  });

  await t.step("batches of mixed records wrap around and grow the storage", () => {
    const ring = Ring.create({ initialBytes: 64, maxBytes: 1 << 20 });
    const expected: unknown[] = [];
    for (let round = 0; round < 60; round++) {
      // Odd lengths on both sides of the word-copy limit, objects, and runs of numbers.
      const batch = [
        "s".repeat((round * 37) % 1500),
        { round, tag: "t".repeat(round % 7) },
        round,
        round + 0.5,
        [round, "x".repeat(round % 5)],
      ];
      expected.push(...batch);
      assert.equal(ring.tryPutMany(batch, false).added, batch.length);
      for (let i = 0; i < 3; i++) assert.deepEqual(ring.tryTake(), expected.shift());
    }
    assert.deepEqual(ring.takeMany(), expected);
  });

  await t.step("takeMany takes at most max, oldest first", () => {
    const ring = Ring.create();
    for (let i = 0; i < 10; i++) ring.tryPut(i, false);
    assert.deepEqual(ring.takeMany(3), [0, 1, 2]);
    assert.deepEqual(ring.takeMany(), [3, 4, 5, 6, 7, 8, 9]);
  });
});

Deno.test("Ring put statuses", async (t) => {
  await t.step(
    "a ring whose writers never wait refuses a waiting put instead of hanging",
    async () => {
      const ring = Ring.create({ maxItems: 1, writersNeverWait: true });
      assert.equal(ring.tryPut(1, false), PUT_DONE);
      assert.throws(
        () => ring.put(2, 10),
        /Cannot wait for room as this ring's takes never wake writers/,
      );
      await assert.rejects(ring.putAsync(2, 10), /never wake writers/);
      assert.equal(ring.tryPut(2, true), PUT_DONE, "an evicting put still works");
      assert.deepEqual(ring.takeMany(), [2]);
    },
  );

  await t.step("a record over maxBytes is PUT_TOO_LARGE, and nothing is added", () => {
    const ring = Ring.create({ initialBytes: 64, maxBytes: 1024 });
    assert.equal(ring.tryPut("y".repeat(2000), false), PUT_TOO_LARGE);
    assert.equal(ring.put("y".repeat(2000)), PUT_TOO_LARGE);
    assert.equal(ring.length, 0);
  });

  await t.step("maxItems without eviction is PUT_FULL; with eviction the oldest goes", () => {
    const ring = Ring.create({ maxItems: 2 });
    assert.equal(ring.tryPut(1, false), PUT_DONE);
    assert.equal(ring.tryPut(2, false), PUT_DONE);
    assert.equal(ring.tryPut(3, false), PUT_FULL);
    assert.equal(ring.tryPut(3, true), PUT_DONE);
    assert.deepEqual(ring.takeMany(), [2, 3]);
    assert.equal(ring.stats.evicted, 1);
  });

  await t.step("a blocking put on a full ring times out with PUT_TIMED_OUT's status", () => {
    const ring = Ring.create({ maxItems: 1 });
    ring.tryPut(1, false);
    assert.notEqual(ring.put(2, 10), PUT_DONE);
    assert.deepEqual(ring.takeMany(), [1]);
  });

  await t.step("after stop: puts are PUT_STOPPED, takes drain then end", () => {
    const ring = Ring.create();
    ring.tryPut("left", false);
    assert.equal(ring.stop(), true);
    assert.equal(ring.stop(), false);
    assert.equal(ring.tryPut("late", false), PUT_STOPPED);
    assert.equal(ring.take(), "left");
    assert.equal(ring.take(), ENDED);
  });
});

Deno.test("Ring takes wait, time out and wake", async (t) => {
  await t.step("take times out with TIMED_OUT", () => {
    const ring = Ring.create();
    assert.equal(ring.take(5), TIMED_OUT);
  });

  await t.step("takeAsync is woken by a put", async () => {
    const ring = Ring.create();
    const taken = ring.takeAsync(5000);
    setTimeout(() => ring.tryPut("hello", false), 5);
    assert.equal(await taken, "hello");
  });

  await t.step("takeAsync rejects with the signal's reason on abort", async () => {
    const ring = Ring.create();
    const controller = new AbortController();
    const taken = ring.takeAsync(undefined, controller.signal);
    controller.abort(new Error("no more"));
    await assert.rejects(taken, /no more/);
    ring.tryPut(1, false); // the aborted waiter took nothing
    assert.equal(ring.tryTake(), 1);
  });

  await t.step("a ring rebuilt from its handle shares the records", () => {
    const ring = Ring.create();
    const other = new Ring(structuredClone(ring.handle));
    other.tryPut({ from: "other" }, false);
    assert.deepEqual(ring.tryTake(), { from: "other" });
  });
});

/**
 * Awaits a waiting put that a wake-up should let in at once; one left asleep with room free fails
 * the test after a second (the ring is then stopped, so that the put ends).
 */
async function wokenWithin(ring: Ring, put: Promise<number>): Promise<number> {
  try {
    return await within(put, 1000, "a writer woken with room free");
  } catch (error) {
    ring.stop();
    await put;
    throw error;
  }
}

/**
 * A 64-byte ring full with two records, a small one then a big one: a take frees room for the
 * small one's size, and only a second take room for the big one.
 */
function fullWithSmallAndBig(): { ring: Ring; small: string; big: string } {
  const sizeOf = (value: string) => 4 + align4(Encoder.get().encode(value, "value").length);
  const small = "s";
  let big = "b";
  while (sizeOf(small) + sizeOf(big + "b") <= 64) big += "b"; // fills what the small one leaves
  const ring = Ring.create({ maxBytes: 64, initialBytes: 64 });
  assert.equal(ring.tryPut(small, false), PUT_DONE);
  assert.equal(ring.tryPut(big, false), PUT_DONE);
  assert.ok(64 - sizeOf(small) - sizeOf(big) < sizeOf(small), "the ring is full");
  return { ring, small, big };
}

Deno.test("Ring: a woken writer that cannot use the room hands the wake-up on", async (t) => {
  await t.step("aborted after the take meant for it", async () => {
    // A take wakes as many writers as items it freed. The first writer's wake-up is settled, but
    // its signal aborts before it runs: the wake-up must reach the second writer (waitAsync
    // hands a wake-up an aborted wait took on), or the second sleeps with room free.
    const ring = Ring.create({ maxItems: 1 });
    assert.equal(ring.tryPut(0, false), PUT_DONE);
    const controller = new AbortController();
    const first = ring.putAsync(1, undefined, controller.signal);
    const second = ring.putAsync(2);
    assert.equal(Atomics.load(ring.ctl, CTL_WRITERS), 2); // both registered before they await
    assert.equal(ring.tryTake(), 0); // wakes one writer: the first, in arrival order
    controller.abort(new Error("gave up"));
    await assert.rejects(first, /gave up/);
    assert.equal(await wokenWithin(ring, second), PUT_DONE);
    assert.equal(ring.tryTake(), 2);
    assert.equal(Atomics.load(ring.ctl, CTL_WRITERS), 0);
  });

  await t.step("killed as it woke in a blocking put, by the take meant for it", async () => {
    // A worker's blocking put sleeps first, a second writer behind it. The worker's kill word is
    // set with no wake-up, then a take wakes the first writer in arrival order: the worker throws
    // as it wakes (it is being terminated) and must hand the wake-up on, or the second writer
    // sleeps with room free.
    const ring = Ring.create({ maxItems: 1 });
    assert.equal(ring.tryPut(0, false), PUT_DONE);
    const words = new Int32Array(new SharedArrayBuffer(8)); // the kill word, the critical count
    const source = `
      import { Ring } from "${new URL("./_ring.ts", import.meta.url).href}";
      import { Termination } from "${new URL("./_futex.ts", import.meta.url).href}";
      self.onmessage = ({ data }) => {
        Termination.install(new Int32Array(data.words), 0, 1);
        try {
          self.postMessage(String(new Ring(data.ring).put(1)));
        } catch (error) {
          self.postMessage(error.message);
        }
      };`;
    const worker = new Worker(`data:application/javascript,${encodeURIComponent(source)}`, {
      type: "module",
    });
    const outcome = new Promise<string>((resolve) => worker.onmessage = (e) => resolve(e.data));
    worker.postMessage({ ring: ring.handle, words: words.buffer });
    try {
      await waitFor(() => Atomics.load(ring.ctl, CTL_WRITERS) === 1);
      // Registered; its Atomics.wait follows within microseconds. No event says it sleeps, so
      // give it that long, and the second writer then queues behind it.
      await new Promise((resolve) => setTimeout(resolve, 20));
      const second = ring.putAsync(2);
      assert.equal(Atomics.load(ring.ctl, CTL_WRITERS), 2);
      Atomics.store(words, 0, 1); // the kill word, without a wake-up
      assert.equal(ring.tryTake(), 0); // wakes one writer: the worker's, in arrival order
      assert.match(await within(outcome, 3000, "the killed writer"), /terminated/);
      assert.equal(await wokenWithin(ring, second), PUT_DONE);
      assert.equal(ring.tryTake(), 2);
      assert.equal(Atomics.load(ring.ctl, CTL_WRITERS), 0);
    } finally {
      worker.terminate();
    }
  });

  await t.step(
    "timed out after the take meant for it, with room for a smaller record",
    async () => {
      // The first writer's record does not fit the room the take frees, and its deadline has
      // passed: it gives up, and must hand its wake-up on to the second, whose record fits.
      const { ring, small, big } = fullWithSmallAndBig();
      const first = ring.putAsync(big, 1);
      const second = ring.putAsync(small);
      assert.equal(Atomics.load(ring.ctl, CTL_WRITERS), 2);
      // Past the first writer's deadline, with its wait still registered (timers run later).
      const until = performance.now() + 3;
      while (performance.now() < until) { /* the first writer's deadline passes */ }
      assert.equal(ring.tryTake(), small); // room for the small record, not the big one
      assert.equal(await first, PUT_TIMED_OUT);
      assert.equal(await wokenWithin(ring, second), PUT_DONE);
      assert.deepEqual(ring.takeMany(), [big, small]);
      assert.equal(Atomics.load(ring.ctl, CTL_WRITERS), 0);
    },
  );

  await t.step("woken with room too small for its record, waiting on", async () => {
    // The first writer cannot use the room the take frees and waits again; the second writer's
    // record fits it, and must not sleep until some later take (a reader may be waiting for
    // exactly that record).
    const { ring, small, big } = fullWithSmallAndBig();
    const first = ring.putAsync(big);
    const second = ring.putAsync(small);
    assert.equal(ring.tryTake(), small); // wakes the first, which does not fit
    assert.equal(await wokenWithin(ring, second), PUT_DONE);
    assert.equal(ring.tryTake(), big);
    assert.equal(ring.tryTake(), small);
    assert.equal(await wokenWithin(ring, first), PUT_DONE);
    assert.deepEqual(ring.takeMany(), [big]);
    assert.equal(Atomics.load(ring.ctl, CTL_WRITERS), 0);
  });

  await t.step("room that fits no waiting writer is handed round once, not for good", async () => {
    // Each writer woken without room for its record hands the wake-up on only if something was
    // taken since it registered: the wake-up goes round the waiting writers once, then stops.
    const { ring, small, big } = fullWithSmallAndBig();
    using counted = countWaits();
    const writes = [ring.putAsync(big), ring.putAsync(big), ring.putAsync(big)];
    assert.equal(counted.waits, 3);
    assert.equal(ring.tryTake(), small); // fits none of them
    // Handed round forever, the wake-up would make thousands of waits in this time.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(counted.waits <= 3 + 4, `${counted.waits - 3} waits after one take`);
    // Each take of a big record lets one writer in.
    for (let i = 0; i < 4; i++) assert.equal(await ring.takeAsync(1000), big);
    assert.deepEqual(await Promise.all(writes), [PUT_DONE, PUT_DONE, PUT_DONE]);
  });
});

Deno.test("Ring stores runs of numbers as typed blocks", async (t) => {
  await t.step("a batch of numbers costs 8 bytes a number, not a record each", () => {
    // 100 numbers as one block: 4 + 800 bytes; as records they would need 1200 to 1600.
    const ring = Ring.create({ initialBytes: 1024, maxBytes: 1024 });
    const values = Array.from({ length: 100 }, (_, i) => i * 1.5);
    assert.deepEqual(ring.tryPutMany(values, false), { added: 100, status: PUT_DONE });
    assert.equal(ring.length, 100);
    assert.deepEqual(ring.takeMany(), values);
  });

  await t.step("single takes, peeks and partial takeMany split a block, in order", () => {
    const ring = Ring.create({ initialBytes: 64 });
    ring.tryPutMany([1, 2, 3, 4, 5, 6, 7], false);
    assert.equal(ring.peek(false), 1);
    assert.equal(ring.peek(true), 7);
    assert.equal(ring.tryTake(), 1);
    assert.deepEqual(ring.takeMany(2), [2, 3]);
    assert.equal(ring.peek(false), 4);
    assert.equal(ring.length, 4);
    assert.equal(ring.tryTake(), 4);
    assert.deepEqual(ring.takeMany(), [5, 6, 7]);
    assert.equal(ring.tryTake(), NOTHING);
    assert.deepEqual(ring.stats, { puts: 7, gets: 7, evicted: 0 });
  });

  await t.step("runs of numbers and other values keep their order, -0 and NaN survive", () => {
    const ring = Ring.create({ initialBytes: 64 });
    const values = [1, 2, "a", -0, NaN, Infinity, { x: 1 }, 3, 2 ** 53, [4], -1e-300];
    assert.deepEqual(ring.tryPutMany(values, false), { added: values.length, status: PUT_DONE });
    assert.deepEqual(ring.takeMany(), values);
    ring.tryPutMany([5, 6, "b", 7], false);
    assert.deepEqual([ring.tryTake(), ring.tryTake(), ring.tryTake(), ring.tryTake()], [
      5,
      6,
      "b",
      7,
    ]);
    assert.ok(Object.is(ring.tryPut(-0, false) === PUT_DONE && ring.tryTake(), -0));
  });

  await t.step("eviction drops the oldest numbers of a block, one count at a time", () => {
    const ring = Ring.create({ maxItems: 4 });
    ring.tryPutMany([1, 2, 3], true);
    ring.tryPutMany([4, 5, 6, 7, 8, 9], true); // longer than the ring: only 6..9 stay
    assert.equal(ring.length, 4);
    assert.equal(ring.peek(false), 6);
    ring.tryPut(10, true);
    assert.deepEqual(ring.takeMany(), [7, 8, 9, 10]);
    assert.deepEqual(ring.stats, { puts: 10, gets: 4, evicted: 6 });
  });

  await t.step("a full ring without eviction adds the numbers that fit, and says how many", () => {
    const ring = Ring.create({ maxItems: 5 });
    ring.tryPutMany([1, 2], false);
    assert.deepEqual(ring.tryPutMany([3, 4, 5, 6, 7], false), { added: 3, status: PUT_FULL });
    assert.deepEqual(ring.takeMany(), [1, 2, 3, 4, 5]);
  });

  await t.step("blocks wrap around the end and survive the storage growing", () => {
    const ring = Ring.create({ initialBytes: 64, maxBytes: 1 << 20 });
    const expected: unknown[] = [];
    let next = 0;
    for (let round = 0; round < 40; round++) {
      const batch = Array.from({ length: (round * 7) % 23 + 1 }, () => next++);
      expected.push(...batch);
      assert.equal(ring.tryPutMany(batch, false).added, batch.length);
      if (round % 3 === 0) ring.tryPut(`s${round}`, false), expected.push(`s${round}`);
      const take = (round * 5) % 17;
      for (let i = 0; i < take && expected.length > 0; i++) {
        assert.deepEqual(ring.tryTake(), expected.shift());
      }
    }
    assert.deepEqual(ring.takeMany(), expected);
  });

  await t.step(
    "a block's numbers start 8-aligned in the ring, whatever the tail's alignment",
    () => {
      // Aligned, a block is copied in and read out as float64s; 4 bytes off, a copy into or out of
      // shared memory goes byte by byte (4x slower for 256 numbers) and a number can straddle the
      // ring's end. Codec records of every length mod 8 put the tail at both alignments, and the
      // 64-byte storage makes blocks wrap.
      const ring = Ring.create({ initialBytes: 64, maxBytes: 64 });
      for (let length = 0; length < 24; length++) {
        const text = "x".repeat(length);
        assert.equal(ring.tryPut(text, false), PUT_DONE);
        const numbers = [length, length + 0.25, -length];
        assert.deepEqual(ring.tryPutMany(numbers, false), { added: 3, status: PUT_DONE });
        const last = ring.ctl[CTL_LAST]!;
        assert.equal(payloadAt(last, ring.words[last >> 2]!) % 8, 0, `after ${length} bytes`);
        assert.equal(ring.peek(true), -length);
        assert.deepEqual(ring.takeMany(), [text, ...numbers]);
      }
    },
  );

  await t.step("a large codec payload starts 8-aligned where it fits padded", () => {
    // Copied in bulk, it would go byte by byte 4 bytes off (see the step above).
    const ring = Ring.create({ initialBytes: 1 << 14, maxBytes: 1 << 14 });
    let padded = 0;
    for (let length = 0; length < 24; length++) {
      const small = "x".repeat(length);
      const large = "y".repeat(1500 + length);
      assert.deepEqual(ring.tryPutMany([small, large], false), { added: 2, status: PUT_DONE });
      const last = ring.ctl[CTL_LAST]!;
      const at = payloadAt(last, ring.words[last >> 2]!);
      assert.equal(at % 8, 0, `after ${length} bytes`);
      if (at === last + 8) padded++;
      assert.equal(ring.peek(true), large);
      assert.deepEqual(ring.takeMany(), [small, large]);
      assert.equal(ring.tryPut(large, false), PUT_DONE);
      assert.equal(ring.tryTake(), large);
    }
    assert.ok(padded > 0 && padded < 24, `${padded} of 24 padded`);
  });

  await t.step("a large codec payload that only fits unpadded goes unpadded", () => {
    // maxBytes 2048, an empty ring whose tail (0) is 8-aligned: a 2041-2044-byte payload fits
    // with its header (4 + 2044), not padded (8 + 2044). Nothing is refused for the padding.
    const ring = Ring.create({ initialBytes: 2048, maxBytes: 2048 });
    let bytes = new Uint8Array(0);
    let length = 0;
    for (let size = 2030; length < 2041; size++) {
      bytes = new Uint8Array(size).fill(7);
      length = Encoder.get().encodeLength(bytes, "bytes");
    }
    assert.ok(length <= 2044, `encoded in ${length} bytes`);
    assert.equal(ring.tryPut(bytes, false), PUT_DONE);
    assert.equal(payloadAt(0, ring.words[0]!), 4);
    assert.deepEqual(ring.tryTake(), bytes);
  });

  await t.step("a single number is not padded, and may straddle the ring's end", () => {
    // 12 bytes, not 16: one put at a time ran 16 -> 13 M/s padded (4 bytes more per item).
    const ring = Ring.create({ initialBytes: 64, maxBytes: 64 });
    for (let length = 0; length < 40; length++) {
      const text = "y".repeat(length % 13);
      assert.equal(ring.tryPut(text, false), PUT_DONE);
      const number = length + 0.125;
      assert.equal(ring.tryPut(number, false), PUT_DONE);
      const last = ring.ctl[CTL_LAST]!;
      assert.equal(payloadAt(last, ring.words[last >> 2]!), last + 4);
      assert.equal(ring.peek(true), number);
      assert.equal(ring.tryTake(), text);
      assert.equal(ring.peek(false), number);
      assert.equal(ring.tryTake(), number);
    }
  });

  await t.step("a batch longer than a block is split, and a tiny maxBytes still takes it", () => {
    const ring = Ring.create({ initialBytes: 64, maxBytes: 1 << 22 });
    const values = Array.from({ length: 5000 }, (_, i) => i);
    assert.equal(ring.tryPutMany(values, false).added, 5000);
    assert.deepEqual(ring.takeMany(), values);
    const tiny = Ring.create({ initialBytes: 64, maxBytes: 64 });
    assert.deepEqual(tiny.tryPutMany([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], true), {
      added: 10,
      status: PUT_DONE,
    });
    assert.deepEqual(tiny.takeMany().at(-1), 10);
  });
});

Deno.test("A single-reader ring wakes its sleeping reader once per sleep, and loses nothing", async () => {
  // The reader (a worker) sleeps in take between rounds (polling first or not); the main thread
  // puts each round in bursts, single puts and batches, after the reader said it is about to
  // sleep. A reader that slept through a put would never answer: the main thread gives it 3 s.
  const requests = Ring.create({ singleReader: true });
  const acks = Ring.create({});
  const ringUrl = new URL("./_ring.ts", import.meta.url).href;
  const source = `
    import { Ring, ENDED } from "${ringUrl}";
    self.onmessage = ({ data }) => {
      const requests = new Ring(data.requests);
      const acks = new Ring(data.acks);
      // Every other take sleeps at once, without polling first (as a worker on one core does).
      for (let n = 0; ; n++) {
        acks.tryPut("idle", false);
        const value = requests.take(undefined, n % 2 === 0);
        if (value === ENDED) break;
        acks.tryPut(value, false);
      }
      self.postMessage("done");
    };`;
  const worker = new Worker(`data:application/javascript,${encodeURIComponent(source)}`, {
    type: "module",
  });
  const done = new Promise((resolve) => worker.onmessage = resolve);
  worker.postMessage({ requests: requests.handle, acks: acks.handle });
  try {
    const received: unknown[] = [];
    const sent: unknown[] = [];
    for (let round = 0; round < 30; round++) {
      // Wait until the reader is idle, then give it time to fall asleep on some rounds.
      while ((await acks.takeAsync(3000)) !== "idle") { /* an echo from the last round */ }
      if (round % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
      const burst = Array.from({ length: 1 + (round % 5) }, (_, i) => round * 10 + i);
      if (round % 2 === 0) { for (const value of burst) requests.tryPut(value, false); }
      else requests.tryPutMany(burst, false);
      sent.push(...burst);
      while (received.length < sent.length) {
        const ack = await acks.takeAsync(3000);
        assert.notEqual(ack, TIMED_OUT, "the reader slept through a put");
        if (ack !== "idle") received.push(ack);
      }
    }
    assert.deepEqual(received, sent);
  } finally {
    requests.stop();
    await done;
    worker.terminate();
  }
});
