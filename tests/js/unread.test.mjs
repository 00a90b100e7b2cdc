// Unit tests of static/chat/unread.js's pure parts (what `read` to send, which counts are
// newer, the divider's place, the badges' words, the title) with Node's built-in runner.
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  CountStore,
  ReadTracker,
  badgeParts,
  countsOf,
  firstUnread,
  isStale,
  titleWithCount,
  unreadAbove,
} from "../../static/chat/unread.js";

test("read tracker: the highest seq seen, never lower than known, never past the room", () => {
  const r = new ReadTracker(118); // the welcome's last_read
  r.setLimit(121); // the welcome's last_seq
  assert.equal(r.next(0), null); // nothing on screen
  assert.equal(r.next(110), null); // below what the server has
  assert.equal(r.next(118), null);
  assert.equal(r.next(120), 120);
  r.sent(120);
  assert.equal(r.next(119), null); // scrolled up: never lower than sent
  assert.equal(r.next(120), null); // nor the same again
  assert.equal(r.next(500), 121); // clamped to the room's last seq
  r.setLimit(119); // a limit never goes down
  assert.equal(r.next(121), 121);
  r.known(130); // another tab read further (an `unread` frame)
  r.setLimit(140);
  assert.equal(r.next(125), null);
  r.known(-1);
  r.known("200");
  assert.equal(r.read, 130);
  assert.equal(new ReadTracker().next(3), null); // no limit known yet: nothing to send
});

test("the divider goes above the first unread message by someone else", () => {
  const ms = [
    { seq: 4, user: "alice" },
    { seq: 5, user: "carol" }, // carol's own
    { seq: 6, user: "bob", deleted: true },
    { seq: 7, user: "bob" },
    { seq: 8, user: "alice" },
  ];
  assert.equal(firstUnread(ms, 4, "carol"), 7);
  assert.equal(firstUnread(ms, 0, "carol"), 4);
  assert.equal(firstUnread(ms, 8, "carol"), null);
  assert.equal(firstUnread([], 0, "carol"), null);
  assert.equal(unreadAbove(ms, 4, "carol"), 2); // 7 and 8: not her own, not deleted
  assert.equal(unreadAbove(ms, 0, "carol"), 3);
});

test("counts: stale frames from the other socket are ignored, equal ones taken", () => {
  const known = { last_seq: 10, last_read: 8, unread: 2, mentions: 0 };
  assert.equal(isStale(known, { last_seq: 9, last_read: 8 }), true);
  assert.equal(isStale(known, { last_seq: 10, last_read: 7 }), true);
  assert.equal(isStale(known, { last_seq: 10, last_read: 8 }), false); // a deletion
  assert.equal(isStale(known, { last_seq: 11, last_read: 7 }), false); // cannot tell: take it
  assert.equal(isStale(null, { last_seq: 0, last_read: 0 }), false);
  assert.deepEqual(countsOf({ last_seq: "5", last_read: -1, unread: 2.5 }), {
    last_seq: 5,
    last_read: 0,
    unread: 0,
    mentions: 0,
  });
  assert.equal(countsOf(null), null);
});

test("count store: unread frames and whole lists, totals without the room on screen", () => {
  const store = new CountStore();
  const told = [];
  store.subscribe((slug) => told.push(slug));
  store.replace([
    { slug: "den", last_seq: 5, last_read: 2, unread: 3, mentions: 1 },
    { slug: "random", last_seq: 1, last_read: 0, unread: 1, mentions: 0 },
    { title: "no slug" },
  ]);
  assert.equal(store.total(), 4);
  assert.equal(store.total("den"), 1);
  assert.equal(store.set("den", { last_seq: 5, last_read: 5, unread: 0, mentions: 0 }), true);
  assert.equal(store.set("den", { last_seq: 5, last_read: 5, unread: 0, mentions: 0 }), false);
  assert.equal(store.set("den", { last_seq: 5, last_read: 2, unread: 3, mentions: 1 }), false); // stale
  assert.equal(store.get("den").unread, 0);
  // A list computed before the read (stale for den) keeps den's newer counts.
  store.replace([{ slug: "den", last_seq: 5, last_read: 2, unread: 3 }, { slug: "new", last_seq: 0 }]);
  assert.equal(store.get("den").unread, 0);
  assert.equal(store.get("random"), null); // deleted: forgotten
  assert.equal(store.get("new").unread, 0);
  assert.deepEqual(told, [null, "den", null]);
});

test("badges: a mention badge, then the unread count, each with its words", () => {
  assert.deepEqual(badgeParts(null), []);
  assert.deepEqual(badgeParts({ unread: 0, mentions: 0 }), []);
  assert.deepEqual(badgeParts({ unread: 3, mentions: 0 }), [
    { kind: "unread", text: "3", label: "3 unread" },
  ]);
  assert.deepEqual(badgeParts({ unread: 150, mentions: 1 }), [
    { kind: "mention", text: "@1", label: "1 mention" },
    { kind: "unread", text: "99+", label: "150 unread" },
  ]);
  assert.equal(badgeParts({ unread: 2, mentions: 2 })[0].label, "2 mentions");
});

test("title: (n) before it while anything is unread", () => {
  assert.equal(titleWithCount("Design Review · Chat", 3), "(3) Design Review · Chat");
  assert.equal(titleWithCount("Design Review · Chat", 0), "Design Review · Chat");
});
