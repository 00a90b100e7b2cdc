// The client's delivery rules (static/chat/delivery.js): node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  BACKOFF_MAX_MS,
  FINAL_CODES,
  SeqOrder,
  backoffDelay,
  readFrame,
} from "../../static/chat/delivery.js";

const msg = (seq, body = `m${seq}`) => ({ seq, user: "alice", body, ts: "2026-12-02T10:00:00Z" });
const seqs = (list) => list.map((m) => m.seq);

test("display by seq: in order, duplicates are known, not shown again", () => {
  const order = new SeqOrder();
  let out = order.take([msg(1), msg(2)]);
  assert.deepEqual(seqs(out.display), [1, 2]);
  out = order.take([msg(2), msg(1)]);
  assert.deepEqual(seqs(out.display), []);
  assert.deepEqual(seqs(out.known), [2, 1]);
  assert.equal(order.last, 2);
});

test("a message beyond a gap waits until the gap is filled, then all show in order", () => {
  const order = new SeqOrder(3);
  let out = order.take([msg(6)]);
  assert.deepEqual(seqs(out.display), []);
  assert.equal(order.gap, true);
  out = order.take([msg(5)]);
  assert.deepEqual(seqs(out.display), []);
  out = order.take([msg(4)]); // the history page `after: 3`
  assert.deepEqual(seqs(out.display), [4, 5, 6]);
  assert.equal(order.gap, false);
  assert.equal(order.last, 6);
});

test("a batch out of order (a welcome overlapping live frames) shows each seq once", () => {
  const order = new SeqOrder(10);
  const out = order.take([msg(13), msg(11), msg(12), msg(11), msg(9)]);
  assert.deepEqual(seqs(out.display), [11, 12, 13]);
  assert.deepEqual(seqs(out.known), [9]);
});

test("a newer view of a shown message comes back as known (e.g. deleted)", () => {
  const order = new SeqOrder();
  order.take([msg(1)]);
  const out = order.take([{ ...msg(1, ""), deleted: true }]);
  assert.equal(out.known[0].deleted, true);
});

test("backoff: equal jitter, doubling from 0.5 s, at most 30 s", () => {
  assert.equal(backoffDelay(0, () => 0), 250);
  assert.equal(backoffDelay(0, () => 1), 500);
  assert.equal(backoffDelay(3, () => 0.5), 3000);
  for (let n = 0; n < 20; n++) {
    const base = Math.min(BACKOFF_MAX_MS, 500 * 2 ** n);
    const d = backoffDelay(n);
    assert.ok(d >= base / 2 && d <= base, `${n}: ${d}`);
  }
  assert.equal(backoffDelay(50, () => 1), 30000);
});

test("final refusals: a post is dropped as failed; others are resent", () => {
  for (const code of ["too_long", "empty", "forbidden", "bad_request"]) assert.ok(FINAL_CODES.has(code));
  for (const code of ["unavailable", "rate_limited"]) assert.ok(!FINAL_CODES.has(code));
});

test("readFrame: a parsed JSON object; null for text, numbers, strings and null", () => {
  assert.deepEqual(readFrame('{"type":"pong"}'), { type: "pong" });
  for (const text of ["not json", "42", '"str"', "null", ""]) assert.equal(readFrame(text), null);
});
