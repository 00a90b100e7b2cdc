// Unit tests of static/chat/ui.js and i18n.js with Node's built-in runner:
//   node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  avatarColor,
  bodyLength,
  continuesGroup,
  counterState,
  dayKey,
  dayLabel,
  hue,
  initials,
  layout,
} from "../../static/chat/ui.js";
import { format, gettext, ngettext } from "../../static/chat/i18n.js";

test("initials: two letters, from two words when there are two", () => {
  assert.equal(initials("alice"), "AL");
  assert.equal(initials("bob_smith"), "BS");
  assert.equal(initials("mary-jane.watson"), "MJ");
  assert.equal(initials("x"), "X");
  assert.equal(initials("設計"), "設");
  assert.equal(initials(""), "?");
  assert.equal(initials("🙂ok"), "🙂O"); // code points, never half a surrogate pair
});

test("avatar colour: stable per name, different for different names, dark enough", () => {
  assert.equal(avatarColor("alice"), avatarColor("alice"));
  assert.notEqual(hue("alice"), hue("bob"));
  assert.match(avatarColor("alice"), /^hsl\(\d+ 65% 32%\)$/);
  for (const name of ["a", "b", "carol", "dave", "設計"]) {
    const h = hue(name);
    assert.ok(h >= 0 && h < 360);
  }
});

test("dayKey: the calendar day in a time zone", () => {
  assert.equal(dayKey("2026-12-02T23:30:00Z", "UTC"), "2026-12-02");
  assert.equal(dayKey("2026-12-02T23:30:00Z", "Asia/Tokyo"), "2026-12-03");
  assert.equal(dayKey("nonsense", "UTC"), "");
  assert.equal(dayKey(null, "UTC"), "");
});

const at = (seq, user, ts, extra = {}) => ({ seq, user, ts, ...extra });

test("grouping: same author within five minutes on the same day", () => {
  const a = at(1, "alice", "2026-12-02T10:00:00Z");
  assert.equal(continuesGroup(a, at(2, "alice", "2026-12-02T10:04:59Z"), "UTC"), true);
  assert.equal(continuesGroup(a, at(2, "alice", "2026-12-02T10:05:01Z"), "UTC"), false);
  assert.equal(continuesGroup(a, at(2, "bob", "2026-12-02T10:01:00Z"), "UTC"), false);
  assert.equal(continuesGroup(a, at(2, "alice", "2026-12-02T10:01:00Z", { deleted: true }), "UTC"), false);
  assert.equal(continuesGroup(null, a, "UTC"), false);
  // Across midnight: a new day starts a new group even within five minutes.
  const late = at(3, "alice", "2026-12-02T23:58:00Z");
  assert.equal(continuesGroup(late, at(4, "alice", "2026-12-03T00:01:00Z"), "UTC"), false);
});

test("layout: day separators and group starts for a list", () => {
  const rows = layout(
    [
      at(1, "alice", "2026-12-01T10:00:00Z"),
      at(2, "alice", "2026-12-01T10:01:00Z"),
      at(3, "bob", "2026-12-01T10:02:00Z"),
      at(4, "bob", "2026-12-02T10:02:00Z"),
    ],
    "UTC",
  );
  assert.deepEqual(
    rows.map((r) => [r.seq, r.newDay, r.groupStart]),
    [
      [1, true, true],
      [2, false, false],
      [3, false, true],
      [4, true, true],
    ],
  );
});

test("counter: hidden far from the limit, then what is left, then over", () => {
  assert.deepEqual(counterState("hi", 4000), { length: 2, left: 3998, visible: false, over: false });
  assert.equal(counterState("x".repeat(3200), 4000).visible, true);
  const over = counterState("y".repeat(4010), 4000);
  assert.equal(over.over, true);
  assert.equal(over.left, -10);
  // Counted as the server counts: code points of the stripped text.
  assert.equal(bodyLength("  😀😀  "), 2);
});

test("day labels: today, yesterday, else the date in the user's locale", () => {
  const now = new Date("2026-12-02T12:00:00Z");
  const labels = { today: "Today", yesterday: "Yesterday" };
  assert.equal(dayLabel("2026-12-02T01:00:00Z", now, labels, "en", "UTC"), "Today");
  assert.equal(dayLabel("2026-12-01T01:00:00Z", now, labels, "en", "UTC"), "Yesterday");
  assert.equal(dayLabel("2026-11-28T01:00:00Z", now, labels, "en", "UTC"), "Saturday, November 28, 2026");
  assert.match(dayLabel("2026-11-28T01:00:00Z", now, labels, "ja", "UTC"), /2026年11月28日/);
});

test("i18n: English without a catalog, named placeholders, plurals", () => {
  assert.equal(gettext("Send"), "Send");
  assert.equal(format("%(user)s is muted.", { user: "bob" }), "bob is muted.");
  assert.equal(format("%(a)s and %(missing)s", { a: 1 }), "1 and %(missing)s");
  assert.equal(ngettext("%(n)s new message", "%(n)s new messages", 1), "%(n)s new message");
  assert.equal(ngettext("%(n)s new message", "%(n)s new messages", 3), "%(n)s new messages");
});

test("i18n: the catalog's functions when the page has them", () => {
  globalThis.gettext = (s) => (s === "Send" ? "送信" : s);
  try {
    assert.equal(gettext("Send"), "送信");
  } finally {
    delete globalThis.gettext;
  }
});
