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

// Retention (docs/search.md): seqs at or below a room's purged_upto no longer exist. A
// history `after: N` page starts at the first message that exists above N, so a first seq
// above N + 1 proves the seqs between are gone.
test("a gap answered by a page starting higher up was purged: skipped, the held ones show", () => {
  const order = new SeqOrder(3);
  order.take([msg(12)]); // live: 12 beyond a gap
  assert.equal(order.gap, true);
  // The gap's page (`history after: 3`) starts at 10, the first kept message.
  const page = [msg(10), msg(11)];
  assert.equal(order.skipPurged(3, page), 6); // 4..9 are gone
  const out = order.take(page);
  assert.deepEqual(seqs(out.display), [10, 11, 12]);
  assert.equal(order.gap, false);
  assert.equal(order.last, 12);
});

test("a real gap still waits: a page starting at last + 1 skips nothing", () => {
  const order = new SeqOrder(3);
  order.take([msg(8)]);
  assert.equal(order.skipPurged(3, [msg(4), msg(5)]), 0);
  const out = order.take([msg(4), msg(5)]);
  assert.deepEqual(seqs(out.display), [4, 5]);
  assert.equal(order.gap, true); // 6 and 7 still to come: ask again after 5
  assert.equal(order.last, 5);
  // An empty page proves nothing: 6 and 7 are still awaited.
  assert.equal(order.skipPurged(5, []), 0);
  assert.equal(order.last, 5);
  assert.equal(order.gap, true);
});

test("a page asked for from above `last` proves nothing about the seqs below it", () => {
  const order = new SeqOrder(3);
  order.take([msg(9)]);
  // e.g. a jump's window `after: 6`: it says nothing about 4 and 5.
  assert.equal(order.skipPurged(6, [msg(7), msg(8)]), 0);
  assert.equal(order.last, 3);
  assert.equal(order.gap, true);
});

test("a resume welcome whose replay starts above since + 1: the purged seqs are skipped", () => {
  const order = new SeqOrder(40); // the page had seen up to 40; since=40
  const replay = [msg(101), msg(102), msg(103)]; // purged up to 100
  assert.equal(order.skipPurged(40, replay), 60);
  assert.deepEqual(seqs(order.take(replay).display), [101, 102, 103]);
  assert.equal(order.gap, false);
});

test("duplicates and unordered pages: the lowest seq above `after` is the page's first", () => {
  const order = new SeqOrder(3);
  const page = [msg(2), msg(12), msg(10), msg(11)]; // 2: a stale duplicate, ignored
  assert.equal(order.skipPurged(3, page), 6);
  assert.deepEqual(seqs(order.take(page).display), [10, 11, 12]);
  assert.equal(order.skipPurged(Number.NaN, [msg(20)]), 0);
  assert.equal(order.skipPurged(-1, [msg(20)]), 0);
});
