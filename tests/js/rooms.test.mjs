// Unit tests of static/chat/rooms.js (private rooms and direct conversations on the page)
// with Node's built-in runner: node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  INVITATION_HOURS,
  INVITATION_HOURS_DEFAULT,
  Listing,
  cleanUsername,
  expiryText,
  invitationLink,
  memberRows,
  roomLabel,
} from "../../static/chat/rooms.js";

test("a direct conversation is called by the other side's name, on each side's page", () => {
  const summary = { slug: "dm-0123456789ab", title: "alice · bob", dm: true, private: true, with: "bob" };
  assert.equal(roomLabel(summary, "alice"), "bob");
  // A room object (welcome, room_updated) names its two members instead.
  const room = { slug: "dm-0123456789ab", title: "alice · bob", dm: true, members: ["alice", "bob"] };
  assert.equal(roomLabel(room, "alice"), "bob");
  assert.equal(roomLabel(room, "bob"), "alice");
  // Failing both, the title without the user's own name.
  assert.equal(roomLabel({ title: "alice · bob", dm: true }, "bob"), "alice");
  assert.equal(roomLabel({ title: "bob", dm: true }, "alice"), "bob");
  // Any other room: its title (even one with a middle dot), else its slug.
  assert.equal(roomLabel({ slug: "den", title: "alice · bob", dm: false }, "alice"), "alice · bob");
  assert.equal(roomLabel({ slug: "den", title: "" }, "alice"), "den");
  assert.equal(roomLabel(null, "alice"), "");
});

test("a private room's members: online first, then offline, each sorted as the server sorts", () => {
  const rows = memberRows(["dave", "alice", "bob", "Zed", "carol"], ["carol", "alice"], "alice");
  assert.deepEqual(rows, [
    { name: "alice", online: true, me: true },
    { name: "carol", online: true, me: false },
    { name: "Zed", online: false, me: false }, // code points: capitals first, as Python
    { name: "bob", online: false, me: false },
    { name: "dave", online: false, me: false },
  ]);
  // Present but not (yet) in the list, e.g. a room_updated a moment behind: shown online.
  assert.deepEqual(memberRows(["alice"], ["alice", "erin"], "alice").map((r) => [r.name, r.online]), [
    ["alice", true],
    ["erin", true],
  ]);
  // A public room has no member list: who is online, and nobody else.
  assert.deepEqual(memberRows(null, ["bob", "alice", 3, ""], "bob").map((r) => r.name), ["alice", "bob"]);
  assert.deepEqual(memberRows(undefined, undefined, "bob"), []);
});

test("a room is lost once listed and then left out of a later list, never before", () => {
  const listing = new Listing("secret");
  assert.equal(listing.take([{ slug: "lobby" }]), false); // never listed (a capped list)
  assert.equal(listing.take([{ slug: "lobby" }, { slug: "secret" }]), false);
  assert.equal(listing.take("not a list"), false);
  assert.equal(listing.take([{ slug: "lobby" }]), true); // removed: gone from the list
  assert.equal(listing.lost, true);
  assert.equal(listing.take([{ slug: "secret" }, null]), false); // invited back
});

test("the invitation link is this site's address of the answer's path", () => {
  assert.equal(invitationLink("http://127.0.0.1:8000", "/invite/abc:def/"), "http://127.0.0.1:8000/invite/abc:def/");
  assert.equal(invitationLink("https://chat.example.com/", "/invite/t/"), "https://chat.example.com/invite/t/");
  assert.equal(invitationLink("https://chat.example.com", "//evil.example/x"), "");
  assert.equal(invitationLink("https://chat.example.com", "https://evil.example/x"), "");
  assert.equal(invitationLink("https://chat.example.com", undefined), "");
  assert.deepEqual(INVITATION_HOURS, [24, 168, 720]);
  assert.ok(INVITATION_HOURS.includes(INVITATION_HOURS_DEFAULT));
});

test("the expiry is said in the page's language and time zone", () => {
  const iso = "2026-12-09T09:30:00.000000+00:00";
  assert.equal(expiryText(iso, "en-GB", "UTC"), "9 Dec 2026, 09:30");
  assert.equal(expiryText(iso, "ja", "Asia/Tokyo"), "2026/12/09 18:30");
  assert.equal(expiryText("soon", "en-GB", "UTC"), "");
  assert.equal(expiryText(null, "en-GB", "UTC"), "");
});

test("a typed username: trimmed, without a leading @", () => {
  assert.equal(cleanUsername("  bob "), "bob");
  assert.equal(cleanUsername("@carol"), "carol");
  assert.equal(cleanUsername(undefined), "");
});
