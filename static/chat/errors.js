// The server's refusals in the user's language. An `error` frame ({"type": "error", "code",
// "detail", ...}, docs/protocol.md "Error codes") says what happened in `code`; its `detail`
// is English, for humans reading the protocol. The page shows its own sentence for every
// code it knows, through the scripts' catalogue (i18n.js), shaped by the frame's other
// fields: `command` (the command refused: moderation, members, edit, react), `retry_after` (rate_limited, seconds)
// and `until` (a mute's end), and by what the page knows (its room is locked; the user a
// member command named, and whether they are a member already). Only for a code it does
// not know does it show `detail`.
// The codes live here once (chat/errors.py ErrorCode); `node --test tests/js/` checks this.
import { format, gettext, locale, ngettext } from "./i18n.js";

export const ERROR = Object.freeze({
  BAD_REQUEST: "bad_request", // malformed, no such message or user
  EMPTY: "empty",
  TOO_LONG: "too_long",
  RATE_LIMITED: "rate_limited", // with retry_after
  FORBIDDEN: "forbidden", // muted (with until), banned, a locked room, not a moderator
  UNAVAILABLE: "unavailable", // nothing stored: retry
});

// The moderation commands that act on a user (docs/protocol.md "Moderation").
const USER_COMMANDS = new Set(["mute", "unmute", "ban", "unban", "kick"]);
// The commands only a private room's owner and moderators may send (docs/protocol.md
// "Private rooms and direct conversations (version 2)"); a member is refused whatever
// the name, so the sentence names nobody.
const MANAGER_COMMANDS = new Set(["invite", "create_invitation", "revoke_invitation"]);

// "18:30" (or "6:30 PM") in the page's language; null for a time that cannot be read.
function shortTime(iso, options) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return null;
  const { locale: lang = locale(), timeZone } = options;
  return new Intl.DateTimeFormat(lang, { timeStyle: "short", timeZone }).format(date);
}

function seconds(retryAfter) {
  const n = Number(retryAfter);
  return n > 0 ? Math.ceil(n) : null; // "1.5" waits 2 s: never fewer than the server asked
}

function forbidden(frame, options) {
  const { command } = frame;
  if (!command) {
    const time = frame.until ? shortTime(frame.until, options) : null;
    if (time) return format(gettext("You are muted in this room until %(time)s."), { time: time });
    if (frame.until) return gettext("You are muted in this room.");
    if (frame.locked || options.locked) return gettext("This room is locked: only moderators can post.");
    return gettext("You may not post in this room now.");
  }
  if (command === "delete") return gettext("You may not delete this message.");
  if (command === "edit") return gettext("You can no longer edit this message.");
  if (command === "react") return gettext("You may not react in this room now.");
  if (USER_COMMANDS.has(command)) return gettext("You may not do that to this user in this room.");
  if (command === "room_settings") return gettext("You may not change this room's settings.");
  if (MANAGER_COMMANDS.has(command)) return gettext("Only the room's owner and moderators can do that.");
  if (command === "remove") return gettext("You may not remove this member from the room.");
  return gettext("You may not do that in this room.");
}

function rateLimited(frame) {
  const n = seconds(frame.retry_after);
  if (n === null) return gettext("Too many at once. Try again in a moment.");
  if (frame.command === "report") {
    return format(ngettext("Too many reports. Try again in %(n)s second.", "Too many reports. Try again in %(n)s seconds.", n), { n: n });
  }
  if (frame.command) {
    return format(ngettext("Too many at once. Try again in %(n)s second.", "Too many at once. Try again in %(n)s seconds.", n), { n: n });
  }
  // Over the rate limit, or slow mode: the same wait for the reader.
  return format(ngettext("Slow down: you can post again in %(n)s second.", "Slow down: you can post again in %(n)s seconds.", n), { n: n });
}

// The server's refusals of member commands are all bad_request, told apart in English
// only (`detail`): the page says what it can know itself (`options.user`, the name it
// sent; `options.member`, whether that name is in the room's members).
function badRequest(frame, options) {
  const { command } = frame;
  const user = typeof options.user === "string" && options.user ? options.user : null;
  if (!command) return gettext("The server could not read this message.");
  if (command === "delete" || command === "report" || command === "edit") return gettext("That message is not in this room.");
  if (command === "react") {
    return gettext("That reaction cannot be added: one emoji each, at most 20 different ones on a message, and none on a deleted one.");
  }
  if (USER_COMMANDS.has(command)) return gettext("There is no user of that name.");
  if (command === "room_settings") return gettext("Slow mode is 0 to 3600 seconds.");
  if (command === "invite") {
    if (user && options.member) return format(gettext("%(user)s is a member already."), { user: user });
    if (user) {
      return format(gettext("%(user)s cannot be invited: there is no user of that name, or they are banned from this room."), { user: user });
    }
    return gettext("That person cannot be invited.");
  }
  if (command === "remove") {
    if (user) return format(gettext("%(user)s is not a member of this room."), { user: user });
    return gettext("That person is not a member of this room.");
  }
  if (command === "open_dm") {
    if (user) return format(gettext("There is no user called %(user)s."), { user: user });
    return gettext("There is no user of that name.");
  }
  if (command === "leave") return gettext("You are not a member of this room.");
  if (command === "create_invitation") return gettext("Invitation links are only for private rooms.");
  if (command === "revoke_invitation") return gettext("That invitation link is not one of this room's.");
  return gettext("The server could not read that request.");
}

// The sentence to show for an error frame. `options`: {locale, timeZone} for a mute's
// time (default: the page's language and the browser's time zone); {locked: true} when
// the page's room is locked (a post refused as forbidden then says so); {user, member}
// for a member command (invite, remove, open_dm): the name sent, and whether it is a
// member already.
export function errorText(frame, options = {}) {
  const f = frame && typeof frame === "object" ? frame : {};
  switch (f.code) {
    case ERROR.FORBIDDEN:
      return forbidden(f, options);
    case ERROR.RATE_LIMITED:
      return rateLimited(f);
    case ERROR.TOO_LONG:
      return gettext("This message is too long.");
    case ERROR.EMPTY:
      return gettext("A message cannot be empty.");
    case ERROR.BAD_REQUEST:
      return badRequest(f, options);
    case ERROR.UNAVAILABLE:
      return gettext("The server could not do that just now. Please try again.");
  }
  if (typeof f.detail === "string" && f.detail) return f.detail; // a code newer than this page
  return gettext("The server refused that.");
}

// What errorText needs from a frame (and from `options`, as errorText takes them: the
// room's lock), to keep with a failed post (sessionStorage) and say again in the page's
// language after a reload.
export function refusal(frame, options = {}) {
  const keep = {};
  for (const key of ["code", "detail", "command", "retry_after", "until"]) {
    if (frame && frame[key] !== undefined) keep[key] = frame[key];
  }
  if (options.locked) keep.locked = true;
  return keep;
}
