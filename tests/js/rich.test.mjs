// Unit tests of the rich messages' pure parts (docs/protocol.md "Rich messages"): one
// emoji for a reaction (emoji.js), the mention suggestions (mentions.js), reaction
// toggles over the server's list (reactions.js), a reply's excerpt (replies.js), which
// messages may still be edited (edits.js) and a mention's notification (notify.js).
// Node's built-in runner: node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";

import { COMMON, graphemes, isEmoji, oneEmoji } from "../../static/chat/emoji.js";
import { complete, matchPeople, mentionQuery } from "../../static/chat/mentions.js";
import {
  PENDING_MS,
  hasReacted,
  mayAdd,
  merged,
  normalize,
  reactionLabel,
  reactors,
  settle,
  toggled,
} from "../../static/chat/reactions.js";
import { EXCERPT_CHARS, excerpt, quoteText } from "../../static/chat/replies.js";
import { editable, editedTitle, lastEditable } from "../../static/chat/edits.js";
import { notificationText } from "../../static/chat/notify.js";
import { errorText } from "../../static/chat/errors.js";

test("emoji: exactly one grapheme cluster that is an emoji", () => {
  for (const ok of ["👍", "❤️", "👍🏽", "👩‍👩‍👧", "🏳️‍🌈", "🇯🇵", "1️⃣", "#️⃣", "*⃣", "✅", "©️", " 🎉 "]) {
    assert.equal(isEmoji(ok), true, ok);
  }
  assert.equal(oneEmoji(" 🎉 "), "🎉"); // trimmed
  for (const bad of ["", " ", "a", "ab", "1", "#", "👍👍", "👍a", "🇯", ":+1:", "<b>", "e\u0301", null, undefined, "🇯🇵🇫🇷"]) {
    assert.equal(isEmoji(bad), false, String(bad));
  }
  assert.equal(graphemes("👩‍👩‍👧x").length, 2);
  // The picker's row is the eight common ones, each an emoji with a name.
  assert.deepEqual(COMMON.map((c) => c.emoji), ["👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "✅"]);
  for (const c of COMMON) {
    assert.equal(isEmoji(c.emoji), true);
    assert.ok(c.name().length > 0);
  }
});

test("mentions: the '@al' before the caret, at a word start", () => {
  assert.deepEqual(mentionQuery("hi @al", 6), { start: 3, query: "al" });
  assert.deepEqual(mentionQuery("@Bo", 3), { start: 0, query: "Bo" });
  assert.deepEqual(mentionQuery("(@bob.s", 7), { start: 1, query: "bob.s" });
  assert.deepEqual(mentionQuery("hi @al there", 6), { start: 3, query: "al" }); // caret mid-text
  assert.equal(mentionQuery("hi @al there", 12), null); // the caret is past the word
  assert.equal(mentionQuery("bob@example", 11), null); // an address, not a mention
  assert.equal(mentionQuery("hi @", 4), null); // nothing typed after "@" yet
  assert.equal(mentionQuery("hi @al ", 7), null);
  assert.equal(mentionQuery("", 0), null);
  assert.equal(mentionQuery("@@al", 4), null);
  assert.deepEqual(mentionQuery("こんにちは @設計", 9), { start: 6, query: "設計" });
});

test("mentions: prefix matches, case-insensitive, without me, each once, sorted", () => {
  const people = ["bob", "Alice", "alfred", "al", "carol", "alice", "me", 7, null, "ALBERT"];
  assert.deepEqual(matchPeople(people, "al", "me"), ["al", "ALBERT", "alfred", "Alice"]);
  assert.deepEqual(matchPeople(people, "AL", "al"), ["ALBERT", "alfred", "Alice"]);
  assert.deepEqual(matchPeople(people, "m", "me"), []); // only the user themself
  assert.deepEqual(matchPeople(people, "zzz", "me"), []);
  assert.equal(matchPeople(Array.from({ length: 30 }, (_, i) => "user" + i), "u", "x").length, 8);
  assert.deepEqual(matchPeople(people, "b", "me", 1), ["bob"]);
});

test("mentions: picking replaces the query with '@name '", () => {
  assert.deepEqual(complete("hi @al", 3, 6, "alice"), { text: "hi @alice ", caret: 10 });
  assert.deepEqual(complete("hi @al and more", 3, 6, "alice"), { text: "hi @alice and more", caret: 10 });
  assert.deepEqual(complete("@b", 0, 2, "bob"), { text: "@bob ", caret: 5 });
});

test("reactions: toggling on and off, as the server does", () => {
  const server = [{ emoji: "👍", users: ["alice"] }, { emoji: "🎉", users: ["bob"] }];
  assert.equal(hasReacted(server, "👍", "alice"), true);
  assert.equal(hasReacted(server, "👍", "bob"), false);
  assert.deepEqual(toggled(server, "👍", "bob"), [{ emoji: "👍", users: ["alice", "bob"] }, { emoji: "🎉", users: ["bob"] }]);
  assert.deepEqual(toggled(server, "🎉", "bob"), [{ emoji: "👍", users: ["alice"] }]); // the last one off: gone
  assert.deepEqual(toggled(server, "👀", "bob").map((r) => r.emoji), ["👍", "🎉", "👀"]); // new ones go last
  assert.deepEqual(server, [{ emoji: "👍", users: ["alice"] }, { emoji: "🎉", users: ["bob"] }]); // untouched
  assert.deepEqual(normalize([{ emoji: "👍", users: [] }, null, { emoji: 3 }, { emoji: "✅", users: ["a", 1] }]), [
    { emoji: "✅", users: ["a"] },
  ]);
  assert.deepEqual(normalize(undefined), []);
});

test("reactions: a click shows at once and is forgotten once the server agrees", () => {
  const now = 1_000_000;
  let server = [{ emoji: "👍", users: ["alice"] }];
  const pending = new Map([["👍", { on: true, at: now }]]); // bob clicked 👍
  assert.deepEqual(merged(server, pending, "bob"), [{ emoji: "👍", users: ["alice", "bob"] }]);
  // Someone else's reaction arrives first: bob's click still shows over it.
  server = [{ emoji: "👍", users: ["alice"] }, { emoji: "🎉", users: ["carol"] }];
  settle(server, pending, "bob", now + 10);
  assert.equal(pending.size, 1);
  assert.deepEqual(merged(server, pending, "bob"), [
    { emoji: "👍", users: ["alice", "bob"] },
    { emoji: "🎉", users: ["carol"] },
  ]);
  // Then the server's list with bob's reaction: nothing pending any more.
  server = [{ emoji: "👍", users: ["alice", "bob"] }, { emoji: "🎉", users: ["carol"] }];
  settle(server, pending, "bob", now + 20);
  assert.equal(pending.size, 0);
  // Off: shown off at once; a click the server never answers is dropped after PENDING_MS.
  pending.set("🎉", { on: false, at: now });
  assert.deepEqual(merged([{ emoji: "🎉", users: ["bob"] }], pending, "bob"), []);
  settle([{ emoji: "🎉", users: ["bob"] }], pending, "bob", now + PENDING_MS - 1);
  assert.equal(pending.size, 1);
  settle([{ emoji: "🎉", users: ["bob"] }], pending, "bob", now + PENDING_MS + 1);
  assert.equal(pending.size, 0);
  assert.deepEqual(merged(server, null, "bob"), server);
});

test("reactions: at most REACTIONS_MAX distinct emoji; labels name who reacted", () => {
  const full = Array.from({ length: 20 }, (_, i) => ({ emoji: String.fromCodePoint(0x1f600 + i), users: ["a"] }));
  assert.equal(mayAdd(full, "👍", 20), false);
  assert.equal(mayAdd(full, full[3].emoji, 20), true); // one already there: toggling is fine
  assert.equal(mayAdd(full.slice(1), "👍", 20), true);
  assert.equal(mayAdd(full.slice(0, 3), "👍", 3), false);
  assert.equal(reactors(["alice", "bob"]), "alice, bob");
  assert.equal(reactionLabel({ emoji: "👍", users: ["alice", "bob"] }), "👍 2 reactions: alice, bob");
  assert.equal(reactionLabel({ emoji: "🎉", users: ["bob"] }), "🎉 1 reaction: bob");
});

test("replies: the quote's excerpt is one line of text, cut at 100 characters", () => {
  assert.equal(EXCERPT_CHARS, 100);
  assert.equal(excerpt("  hello\n\nworld  "), "hello world");
  const long = "x".repeat(150);
  assert.equal(excerpt(long), "x".repeat(100) + "…");
  assert.equal(excerpt("x".repeat(100)), "x".repeat(100)); // exactly 100: not cut
  assert.equal(excerpt("👍".repeat(101)), "👍".repeat(100) + "…"); // code points, never half a pair
  assert.equal(excerpt("<b>not html</b>"), "<b>not html</b>"); // text, as typed
  assert.equal(excerpt(null), "");
  assert.deepEqual(quoteText({ user: "bob", body: "**hi** there" }), { user: "bob", text: "**hi** there", state: "ok" });
  assert.deepEqual(quoteText({ user: "bob", body: "", deleted: true }), {
    user: "bob",
    text: "This message was deleted.",
    state: "deleted",
  });
  assert.equal(quoteText(null).state, "loading");
});

test("edits: the author's own, not deleted, within the window (0: always)", () => {
  const ts = "2026-12-03T10:00:00+00:00";
  const at = Date.parse(ts);
  const m = { seq: 4, user: "alice", body: "typo", ts: ts, deleted: false };
  assert.equal(editable(m, "alice", 3600, at + 3599_000), true);
  assert.equal(editable(m, "alice", 3600, at + 3600_000), false);
  assert.equal(editable(m, "alice", 0, at + 10 * 365 * 864e5), true);
  assert.equal(editable(m, "bob", 0, at), false); // someone else's
  assert.equal(editable({ ...m, deleted: true }, "alice", 0, at), false);
  assert.equal(editable({ ...m, ts: "nonsense" }, "alice", 60, at), false);
  assert.equal(editable(null, "alice", 0, at), false);
  const list = [
    { seq: 1, user: "alice", body: "one", ts: ts },
    { seq: 2, user: "alice", body: "two", ts: ts },
    { seq: 3, user: "alice", body: "", ts: ts, deleted: true },
    { seq: 4, user: "bob", body: "four", ts: ts },
  ];
  assert.equal(lastEditable(list, "alice", 3600, at + 1000).seq, 2); // the latest own, not deleted
  assert.equal(lastEditable(list, "alice", 3600, at + 3601_000), null); // too old: Up does nothing
  assert.equal(lastEditable(list, "carol", 0, at), null);
  assert.match(editedTitle("2026-12-03T10:05:00+00:00", "en-US"), /^Edited Dec 3, 2026/);
  assert.equal(editedTitle(null), "Edited");
});

test("notifications: a mention names who and where; a dm the sender", () => {
  const message = { seq: 7, user: "alice", body: "hey @bob, look\nhere" };
  const names = (slug) => ({ lobby: "Lobby" })[slug];
  assert.deepEqual(notificationText({ kind: "mention", room: "lobby", message }, names), {
    title: "alice mentioned you in Lobby",
    body: "hey @bob, look here",
    tag: "mention:lobby:7",
  });
  assert.deepEqual(notificationText({ kind: "dm", room: "dm-1", message }, names), {
    title: "alice",
    body: "hey @bob, look here",
    tag: "dm:dm-1:7",
  });
  assert.equal(notificationText({ kind: "mention", room: "other", message }, names).title, "alice mentioned you in other");
  assert.equal(notificationText({ kind: "other", room: "lobby", message }), null);
  assert.equal(notificationText({ kind: "mention", message }), null);
  assert.equal(notificationText(null), null);
});

test("errors: refused edits and reactions say what happened", () => {
  assert.equal(errorText({ code: "forbidden", command: "edit" }), "You can no longer edit this message.");
  assert.equal(errorText({ code: "bad_request", command: "edit" }), "That message is not in this room.");
  assert.equal(errorText({ code: "too_long", command: "edit" }), "This message is too long.");
  assert.equal(errorText({ code: "forbidden", command: "react" }), "You may not react in this room now.");
  assert.match(errorText({ code: "bad_request", command: "react" }), /^That reaction cannot be added: one emoji each/);
  assert.equal(errorText({ code: "rate_limited", command: "react", retry_after: 2 }), "Too many at once. Try again in 2 seconds.");
});
