import assert from "node:assert/strict";
import { decode, Decoder, encode, Encoded, UncloneableError } from "./_codec.ts";
import { QueueTimeout, WorkerCrashed } from "./_errors.ts";
import { Event } from "./sync.ts";

function roundTrip<T>(value: T): T {
  return decode(encode(value).slice()) as T;
}

Deno.test("codec round-trips every structured-cloneable kind", async (t) => {
  await t.step("primitives", () => {
    for (
      const value of [
        0,
        -0,
        1,
        -1,
        2 ** 31,
        -(2 ** 31) - 1,
        0.1,
        NaN,
        Infinity,
        -Infinity,
        Number.MAX_SAFE_INTEGER,
        "",
        "ascii",
        "ünïcødé ✓ 🎉",
        true,
        false,
        null,
        undefined,
        0n,
        -123456789012345678901234567890n,
        2n ** 200n,
      ]
    ) {
      assert.ok(Object.is(roundTrip(value), value), `round trip of ${String(value)}`);
    }
  });

  await t.step("long strings, ASCII and not", () => {
    const ascii = "x".repeat(3 * 1024 * 1024);
    assert.equal(roundTrip(ascii), ascii);
    const mixed = "é".repeat(100_000) + "a".repeat(70);
    assert.equal(roundTrip(mixed), mixed);
  });

  await t.step("containers", () => {
    const value = {
      numbers: [1, 2.5, -3],
      mixed: [1, "two", null, [3, [4]], { five: 5 }],
      empty: [],
      nested: { a: { b: { c: ["deep"] } } },
      map: new Map<unknown, unknown>([["k", 1], [2, { v: [1] }]]),
      set: new Set([1, "a", 2n]),
      date: new Date(1_700_000_000_123),
      regexp: /a+b/giu,
    };
    assert.deepEqual(roundTrip(value), value);
  });

  await t.step("null-prototype objects arrive as plain objects, as with structuredClone", () => {
    const back = roundTrip(Object.assign(Object.create(null), { x: 1 }));
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
    assert.deepEqual(back, { x: 1 });
  });

  await t.step("sparse arrays keep their holes", () => {
    const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
    const back = roundTrip(sparse);
    assert.equal(back.length, 3);
    assert.ok(!(1 in back));
  });

  await t.step("binary data", () => {
    const buffer = new Uint8Array([1, 2, 3, 255]).buffer;
    assert.deepEqual(new Uint8Array(roundTrip(buffer)), new Uint8Array([1, 2, 3, 255]));
    const views = [
      new Int8Array([-1, 2]),
      new Uint8ClampedArray([300 as number]),
      new Int16Array([-300]),
      new Uint16Array([65535]),
      new Int32Array([-(2 ** 31)]),
      new Uint32Array([2 ** 32 - 1]),
      new Float32Array([1.5]),
      new Float64Array([Math.PI]),
      new BigInt64Array([-5n]),
      new BigUint64Array([2n ** 64n - 1n]),
    ];
    for (const view of views) assert.deepEqual(roundTrip(view), view);
    const offsetView = new Uint16Array(new Uint8Array([9, 9, 1, 0, 2, 0]).buffer, 2, 2);
    assert.deepEqual(roundTrip(offsetView), new Uint16Array([1, 2]));
    const dataView = roundTrip(new DataView(new Uint8Array([7, 8]).buffer));
    assert.ok(dataView instanceof DataView);
    assert.equal(dataView.getUint8(1), 8);
  });

  await t.step("shared references and cycles keep their identity", () => {
    const shared = { id: 1 };
    const cyclic: Record<string, unknown> = { shared, again: shared };
    cyclic.self = cyclic;
    const back = roundTrip(cyclic);
    assert.equal(back.self, back);
    assert.equal(back.shared, back.again);
    assert.notEqual(back.shared, shared);
  });

  await t.step("references hold past the first objects, and no encode sees the last one's", () => {
    // The first objects of an encode are looked up one by one, later ones in an index.
    const objects = Array.from({ length: 40 }, (_, id) => ({ id }));
    const graph = [...objects, objects[0], objects[15], objects[16], objects[39]];
    const back = roundTrip(graph) as { id: number }[];
    assert.deepEqual(back.slice(0, 40).map((o) => o.id), objects.map((o) => o.id));
    assert.equal(back[40], back[0]);
    assert.equal(back[41], back[15]);
    assert.equal(back[42], back[16]);
    assert.equal(back[43], back[39]);
    // The same objects again, in a new encode: written in full, not as references to the last.
    const again = roundTrip([objects[39], objects[0]]) as { id: number }[];
    assert.deepEqual(again, [{ id: 39 }, { id: 0 }]);
    const small = roundTrip([objects[1], [objects[1]]]) as unknown[];
    assert.equal((small[1] as unknown[])[0], small[0]);
  });

  await t.step("an embedded encoding keeps its own references, and the outer ones go on", () => {
    const inner = { x: 1 };
    const embedded = new Encoded(encode([inner, { y: 2 }, inner]).slice());
    const outer = { z: 3 };
    const back = roundTrip([outer, embedded, [outer], embedded]) as unknown[][];
    assert.deepEqual(back, [{ z: 3 }, [{ x: 1 }, { y: 2 }, { x: 1 }], [{ z: 3 }], [
      { x: 1 },
      { y: 2 },
      { x: 1 },
    ]]);
    assert.equal(back[1]![2], back[1]![0]);
    assert.equal(back[2]![0], back[0]); // a reference after the embedding: to the outer object
    assert.notEqual(back[3], back[1]); // each embedding decodes anew
    assert.equal(back[3]![2], back[3]![0]);
  });

  await t.step("a decode leaves no decoded value reachable from the shared decoder", () => {
    const big = { payload: new Uint8Array(1024), list: [{ a: 1 }, { b: new Date(0) }] };
    roundTrip([big, big]);
    const decoder = Decoder.get();
    assert.equal(decoder.refs.every((slot) => slot === undefined), true);
    // A graph of thousands of objects: its slots are given back, not kept for the next decode.
    roundTrip(Array.from({ length: 2000 }, (_, i) => ({ i })));
    assert.equal(decoder.refs.length, 0);
  });
});

Deno.test("codec revives errors with their class, name, message, stack and cause", async (t) => {
  await t.step("built-in classes", () => {
    const error = new RangeError("out of range", { cause: new TypeError("inner") });
    const back = roundTrip(error);
    assert.ok(back instanceof RangeError);
    assert.equal(back.name, "RangeError");
    assert.equal(back.message, "out of range");
    assert.equal(back.stack, error.stack);
    assert.ok(back.cause instanceof TypeError);
    assert.equal((back.cause as Error).message, "inner");
  });

  await t.step("theta's own classes", () => {
    const back = roundTrip(new WorkerCrashed("gone"));
    assert.ok(back instanceof WorkerCrashed);
    assert.equal(back.name, "WorkerCrashed");
    assert.ok(roundTrip(new QueueTimeout()) instanceof QueueTimeout);
  });

  await t.step("custom names survive on a plain Error", () => {
    class ParseFailure extends Error {
      override name = "ParseFailure";
    }
    const back = roundTrip(new ParseFailure("bad token"));
    assert.ok(back instanceof Error);
    assert.equal(back.name, "ParseFailure");
    assert.equal(back.message, "bad token");
  });

  await t.step("DOMException timeouts stay DOMExceptions", () => {
    const back = roundTrip(new DOMException("too slow", "TimeoutError"));
    assert.ok(back instanceof DOMException);
    assert.equal(back.name, "TimeoutError");
  });

  await t.step("AggregateError keeps its errors", () => {
    const back = roundTrip(new AggregateError([new Error("a")], "many"));
    assert.ok(back instanceof AggregateError);
    assert.equal(back.errors.length, 1);
  });
});

Deno.test("codec refuses what cannot cross threads, naming where it is", async (t) => {
  await t.step("a function deep inside", () => {
    assert.throws(
      () => encode({ a: [1, { fn: () => 1 }] }),
      (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /value\.a\[1\]\.fn/);
        assert.match(error.message, /function/);
        return true;
      },
    );
  });

  await t.step("a symbol, with an odd key quoted", () => {
    assert.throws(() => encode({ "odd key": Symbol("s") }, "args[0]"), /args\[0\]\["odd key"\]/);
  });

  await t.step("class instances are refused rather than stripped", () => {
    class Account {
      #balance = 10;
      get balance(): number {
        return this.#balance;
      }
    }
    assert.throws(() => encode([new Account()]), /value\[0\].*instance of Account/);
  });

  await t.step("map entries and set members are located", () => {
    assert.throws(() => encode(new Map([["k", () => 1]])), /map entry 0/);
    assert.throws(() => encode(new Set([Symbol()])), /set entry 0/);
  });

  await t.step("shared objects ask for postMessage", () => {
    const error = (() => {
      try {
        encode({ event: new Event() });
      } catch (caught) {
        return caught;
      }
    })();
    assert.ok(error instanceof UncloneableError);
    assert.equal(error.needsMessage, true);
    assert.match(error.message, /value\.event/);
  });

  await t.step("the encoder recovers after a failure", () => {
    assert.throws(() => encode([1, () => 1]));
    assert.deepEqual(roundTrip({ ok: [1, "two"] }), { ok: [1, "two"] });
  });
});
