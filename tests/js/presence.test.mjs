// Unit tests of static/chat/presence.js's pure parts (who is online, who is typing, when
// the composer says so) with Node's built-in runner: node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  Members,
  TYPING_EVERY_MS,
  TYPING_EXPIRES_MS,
  TypingSender,
  Typists,
  typingText,
} from "../../static/chat/presence.js";

test("members: the welcome's list, then presence frames; sorted as the server sorts", () => {
  const m = new Members();
  m.reset(["bob", "alice", 7, null]);
  assert.deepEqual(m.list(), ["alice", "bob"]);
  assert.equal(m.set("carol", true), true);
  assert.equal(m.set("carol", true), false); // already here: nothing changes
  assert.equal(m.set("Zed", true), true);
  assert.deepEqual(m.list(), ["Zed", "alice", "bob", "carol"]); // code points, as Python
  assert.equal(m.set("bob", false), true);
  assert.equal(m.set("bob", false), false);
  assert.equal(m.set("", true), false);
  assert.equal(m.size, 3);
  m.reset(["dave"]); // a reconnect: the new welcome's list, nothing kept
  assert.deepEqual(m.list(), ["dave"]);
  m.reset(undefined);
  assert.equal(m.size, 0);
});

test("members: a presence_changes frame applies every change, and says if any did", () => {
  const m = new Members();
  m.reset(["alice", "bob"]);
  assert.equal(m.apply(["carol", "dave", 3], ["bob", "nobody"]), true);
  assert.deepEqual(m.list(), ["alice", "carol", "dave"]);
  assert.equal(m.apply(["carol"], ["bob"]), false); // as it was: nothing to redraw
  assert.equal(m.apply(undefined, null), false);
});

test("typing line: one, two, then several people", () => {
  assert.equal(typingText([]), "");
  assert.equal(typingText(["alice"]), "alice is typing…");
  assert.equal(typingText(["alice", "bob"]), "alice and bob are typing…");
  assert.equal(typingText(["alice", "bob", "carol"]), "Several people are typing…");
  assert.equal(typingText(["a", "b", "c", "d"]), "Several people are typing…");
});

test("typists: each expires 6 s after their last frame; a refresh is not a change", () => {
  const t = new Typists();
  assert.equal(TYPING_EXPIRES_MS, 6000);
  assert.equal(t.nextExpiry(), null);
  assert.equal(t.typing("bob", 0), true);
  assert.equal(t.typing("alice", 1000), true);
  assert.equal(t.typing("bob", 3000), false); // bob again: the line says the same
  assert.deepEqual(t.names(), ["alice", "bob"]);
  assert.equal(t.nextExpiry(), 7000); // alice's
  assert.equal(t.expire(6999), false);
  assert.equal(t.expire(7000), true);
  assert.deepEqual(t.names(), ["bob"]);
  assert.equal(t.expire(8999), false); // bob's refresh at 3 s keeps him until 9 s
  assert.equal(t.expire(9000), true);
  assert.deepEqual(t.names(), []);
});

test("typists: a message from the typist ends their indicator at once", () => {
  const t = new Typists();
  t.typing("bob", 0);
  t.typing("carol", 0);
  assert.equal(t.stop("bob"), true);
  assert.equal(t.stop("bob"), false);
  assert.deepEqual(t.names(), ["carol"]);
  assert.equal(t.clear(), true); // a reconnect
  assert.equal(t.clear(), false);
  assert.equal(t.typing(undefined, 0), false);
});

test("typing sender: not for an empty composer, at most every 3 s, at once after a send", () => {
  const s = new TypingSender();
  assert.equal(TYPING_EVERY_MS, 3000);
  assert.equal(s.input("", 0), false);
  assert.equal(s.input("   \n", 0), false);
  assert.equal(s.input("h", 100), true);
  assert.equal(s.input("he", 1100), false);
  assert.equal(s.input("hel", 3099), false);
  assert.equal(s.input("hell", 3100), true); // still typing: repeated every 3 s
  s.reset(); // sent
  assert.equal(s.input("", 3200), false);
  assert.equal(s.input("n", 3300), true); // the next message, at once
});
