// The server's refusals in the user's language (static/chat/errors.js): node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { ERROR, errorText, refusal } from "../../static/chat/errors.js";

const DETAIL = "English words from the server";
const frame = (code, extra = {}) => ({ type: "error", code, detail: DETAIL, ...extra });
const COMMANDS = [
  undefined, "delete", "report", "mute", "unmute", "ban", "unban", "kick", "room_settings", "history",
  "invite", "remove", "leave", "open_dm", "create_invitation", "revoke_invitation",
];

// A stand-in for Django's JavaScriptCatalog (/jsi18n/ defines these on window).
function withCatalog(run) {
  globalThis.gettext = (text) => `«${text}»`;
  globalThis.ngettext = (one, many, n) => `«${n === 1 ? one : many}»`;
  try {
    run();
  } finally {
    delete globalThis.gettext;
    delete globalThis.ngettext;
  }
}

test("the page knows every code the server has (chat/errors.py ErrorCode)", () => {
  const source = readFileSync(new URL("../../chat/errors.py", import.meta.url), "utf8");
  const block = source.split("class ErrorCode(StrEnum):")[1].split("\nclass ")[0];
  const server = [...block.matchAll(/^\s+([A-Z_]+) = "([a-z_]+)"/gm)].map((m) => [m[1], m[2]]);
  assert.ok(server.length >= 6, block);
  assert.deepEqual(Object.entries(ERROR).sort(), server.sort());
});

test("every known code, for a post or any command, is the page's sentence, never the detail", () => {
  for (const code of Object.values(ERROR)) {
    for (const command of COMMANDS) {
      const text = errorText(frame(code, { command, retry_after: 3, until: "2026-12-02T18:30:00Z" }));
      assert.equal(typeof text, "string");
      assert.ok(text.length > 5, `${code} ${command}`);
      assert.notEqual(text, DETAIL, `${code} ${command}`);
    }
  }
});

test("the sentences come from the scripts' catalogue", () => {
  withCatalog(() => {
    assert.equal(errorText(frame("empty")), "«A message cannot be empty.»");
    assert.equal(errorText(frame("forbidden", { command: "ban" })), "«You may not do that to this user in this room.»");
    assert.equal(errorText(frame("rate_limited", { retry_after: 4 })), "«Slow down: you can post again in 4 seconds.»");
  });
});

test("a code the page does not know shows the server's detail", () => {
  assert.equal(errorText(frame("quota_exceeded")), DETAIL);
  assert.equal(errorText({ type: "error", code: "quota_exceeded" }), "The server refused that.");
  assert.equal(errorText(null), "The server refused that.");
});

test("rate_limited says how long to wait, never less than the server asked", () => {
  assert.equal(errorText(frame("rate_limited", { retry_after: 1 })), "Slow down: you can post again in 1 second.");
  assert.equal(errorText(frame("rate_limited", { retry_after: 1.5 })), "Slow down: you can post again in 2 seconds.");
  assert.equal(
    errorText(frame("rate_limited", { retry_after: 30, command: "report" })),
    "Too many reports. Try again in 30 seconds.",
  );
  assert.equal(errorText(frame("rate_limited", { retry_after: 0.2, command: "mute" })), "Too many at once. Try again in 1 second.");
  assert.equal(errorText(frame("rate_limited")), "Too many at once. Try again in a moment.");
});

test("forbidden: a mute says until when, in the page's language; commands say what was refused", () => {
  const muted = frame("forbidden", { until: "2026-12-02T18:30:00+00:00" });
  assert.equal(errorText(muted, { locale: "en-GB", timeZone: "UTC" }), "You are muted in this room until 18:30.");
  assert.equal(errorText(muted, { locale: "ja", timeZone: "Asia/Tokyo" }), "You are muted in this room until 3:30.");
  assert.equal(errorText(frame("forbidden", { until: "soon" })), "You are muted in this room.");
  assert.equal(errorText(frame("forbidden")), "You may not post in this room now.");
  const locked = "This room is locked: only moderators can post.";
  assert.equal(errorText(frame("forbidden"), { locked: true }), locked);
  assert.equal(errorText(refusal(frame("forbidden"), { locked: true })), locked);
  assert.equal(errorText(frame("forbidden", { command: "delete" })), "You may not delete this message.");
  assert.equal(errorText(frame("forbidden", { command: "kick" })), "You may not do that to this user in this room.");
  assert.equal(errorText(frame("forbidden", { command: "room_settings" })), "You may not change this room's settings.");
});

test("bad_request names what was missing for the command refused", () => {
  assert.equal(errorText(frame("bad_request")), "The server could not read this message.");
  assert.equal(errorText(frame("bad_request", { command: "report" })), "That message is not in this room.");
  assert.equal(errorText(frame("bad_request", { command: "unban" })), "There is no user of that name.");
  assert.equal(errorText(frame("too_long", { client_id: "c1" })), "This message is too long.");
  assert.equal(errorText(frame("unavailable")), "The server could not do that just now. Please try again.");
});

test("refusal keeps what the sentence needs, to say it again after a reload", () => {
  const kept = refusal(frame("forbidden", { until: "2026-12-02T18:30:00Z", client_id: "c1", extra: 1 }));
  assert.deepEqual(kept, { code: "forbidden", detail: DETAIL, until: "2026-12-02T18:30:00Z" });
  const again = JSON.parse(JSON.stringify(kept));
  assert.equal(errorText(again, { locale: "en-GB", timeZone: "UTC" }), "You are muted in this room until 18:30.");
});

test("private rooms' refusals: the name the page sent, and what it knows of the members", () => {
  const invite = frame("bad_request", { command: "invite" });
  assert.equal(errorText(invite, { user: "bob", member: true }), "bob is a member already.");
  assert.equal(
    errorText(invite, { user: "nobody" }),
    "nobody cannot be invited: there is no user of that name, or they are banned from this room.",
  );
  assert.equal(errorText(invite), "That person cannot be invited.");
  assert.equal(errorText(frame("bad_request", { command: "remove" }), { user: "carol" }), "carol is not a member of this room.");
  assert.equal(errorText(frame("bad_request", { command: "open_dm" }), { user: "zed" }), "There is no user called zed.");
  assert.equal(errorText(frame("bad_request", { command: "open_dm" })), "There is no user of that name.");
  assert.equal(errorText(frame("bad_request", { command: "leave" })), "You are not a member of this room.");
  assert.equal(errorText(frame("bad_request", { command: "create_invitation" })), "Invitation links are only for private rooms.");
  // A member who is not a moderator is refused whatever the name: the sentence names nobody.
  for (const command of ["invite", "create_invitation", "revoke_invitation"]) {
    assert.equal(errorText(frame("forbidden", { command }), { user: "bob" }), "Only the room's owner and moderators can do that.");
  }
  assert.equal(errorText(frame("forbidden", { command: "remove" })), "You may not remove this member from the room.");
});
