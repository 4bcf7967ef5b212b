// Tests of the pool's wire protocol: the records both sides read and write.
import assert from "node:assert/strict";
import { decode, encode, Encoded } from "../_codec.ts";
import {
  BELL_ASLEEP,
  BELL_BYTES,
  BELL_NAPPING,
  BELL_SEQ,
  BELL_WAITING,
  MODE_EACH,
  payloadTooLarge,
  readReply,
  readRequest,
  REPLY_OK,
  replyRecord,
  type Request,
  REQUEST_CALL,
  requestRecord,
  ringBell,
} from "./protocol.ts";

Deno.test("a request survives the codec as the same record", () => {
  const request: Request = {
    kind: REQUEST_CALL,
    id: 7,
    ref: 3,
    source: "(x) => x",
    args: new Encoded(encode([1, "two"]).slice()),
    mode: MODE_EACH,
    ticket: 2,
  };
  const record = (r: Request) =>
    requestRecord(r.kind, r.id, r.ref, r.source, r.args, r.mode, r.ticket);
  const read = readRequest(decode(encode(record(request))));
  assert.deepEqual({ ...read, args: undefined }, { ...request, args: undefined });
  assert.deepEqual(read.args, [1, "two"]); // embedded bytes decode as their value
  const named = readRequest(decode(encode(record({ ...request, ref: "fib", source: undefined }))));
  assert.equal(named.ref, "fib");
  assert.equal(named.source, undefined);
});

Deno.test("a reply survives the codec as the same record", () => {
  const reply = readReply(decode(encode(replyRecord(REPLY_OK, 9, new Map([[1, "a"]]), 1.5))));
  assert.deepEqual(reply, { kind: REPLY_OK, id: 9, value: new Map([[1, "a"]]), runMs: 1.5 });
  const into = { kind: -1, id: -1, value: null as unknown, runMs: -1 };
  const again = readReply(decode(encode(replyRecord(REPLY_OK, 10, "x", 0.5))), into);
  assert.equal(again, into, "read into the given record");
  assert.deepEqual(into, { kind: REPLY_OK, id: 10, value: "x", runMs: 0.5 });
});

Deno.test("ringBell bumps the sequence only while the pump sleeps", () => {
  const bell = new Int32Array(new SharedArrayBuffer(BELL_BYTES));
  ringBell(bell);
  assert.equal(Atomics.load(bell, BELL_SEQ), 0);
  Atomics.store(bell, BELL_WAITING, BELL_ASLEEP);
  ringBell(bell);
  assert.equal(Atomics.load(bell, BELL_SEQ), 1);
  assert.equal(Atomics.load(bell, BELL_WAITING), 0, "one notify per sleep");
  ringBell(bell);
  assert.equal(Atomics.load(bell, BELL_SEQ), 1);
});

Deno.test("a napping pump is rung only by a hungry worker", () => {
  const bell = new Int32Array(new SharedArrayBuffer(BELL_BYTES));
  Atomics.store(bell, BELL_WAITING, BELL_NAPPING);
  ringBell(bell, () => false);
  assert.equal(Atomics.load(bell, BELL_SEQ), 0);
  assert.equal(Atomics.load(bell, BELL_WAITING), BELL_NAPPING);
  ringBell(bell, () => true);
  assert.equal(Atomics.load(bell, BELL_SEQ), 1);
  assert.equal(Atomics.load(bell, BELL_WAITING), 0);
});

Deno.test("payloadTooLarge names the limit and the size", () => {
  const error = payloadTooLarge(
    "the task's arguments",
    70_000_000,
    ": pass large buffers in transfer",
  );
  assert.ok(error instanceof RangeError);
  assert.match(error.message, /70000000 bytes, over the pool's limit of 64 MiB per task: pass/);
});
