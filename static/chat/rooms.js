// Private rooms and direct conversations on the page (docs/protocol.md "Private rooms and
// direct conversations (version 2)"), without the DOM, so `node --test tests/js/` checks
// them: what a direct conversation is called on this user's page, the member list of a
// private room (online first), whether this user's room vanished from their room list
// (removed, not a network failure), and the invitation link as the dialog shows it.

import { gettext } from "./i18n.js";
import { avatarColor, initials } from "./ui.js";

// Usernames sorted as the server sorts them (by code point), as presence.js does.
function byCodePoint(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

// The name a direct conversation shows on `me`'s page: the other side. A summary names
// them in `with`; a room object (welcome, room_updated) in `members`; failing both, the
// title ("alice · bob") without `me`. Any other room: its title, else its slug.
export function roomLabel(room, me) {
  if (!room || typeof room !== "object") return "";
  if (room.dm) {
    if (typeof room.with === "string" && room.with) return room.with;
    if (Array.isArray(room.members)) {
      const other = room.members.find((n) => typeof n === "string" && n && n !== me);
      if (other) return other;
    }
    if (typeof room.title === "string" && room.title.includes(" · ")) {
      const other = room.title.split(" · ").find((n) => n && n !== me);
      if (other) return other;
    }
  }
  return (typeof room.title === "string" && room.title) || room.slug || "";
}

// The member panel's rows: with `members` (a private room's, all of them) each member,
// those online first, then those offline, each group sorted; without it (a public room)
// only who is online. `me` is marked. Someone present but not in `members` (staff, or a
// list a moment behind) is shown online too.
export function memberRows(members, present, me) {
  const online = new Set(Array.isArray(present) ? present.filter((n) => typeof n === "string" && n) : []);
  const names = new Set(online);
  if (Array.isArray(members)) for (const n of members) if (typeof n === "string" && n) names.add(n);
  const rows = Array.from(names, (name) => ({ name: name, online: online.has(name), me: name === me }));
  return rows.sort((a, b) => (a.online === b.online ? byCodePoint(a.name, b.name) : a.online ? -1 : 1));
}

// Whether the room on screen is still in this user's room list. `take` each whole list
// (hello, rooms): `lost` once the room was listed and then a later list leaves it out,
// which is what a removal, a leave or a room made private does (its 4403 close then means
// "not a member any more", not "reconnect"). A room never listed (a list capped before
// it) is never called lost.
export class Listing {
  constructor(slug) {
    this.slug = slug;
    this.seen = false;
    this.lost = false;
  }

  take(rooms) {
    if (!Array.isArray(rooms)) return this.lost;
    const here = rooms.some((r) => r && r.slug === this.slug);
    if (here) {
      this.seen = true;
      this.lost = false;
    } else if (this.seen) {
      this.lost = true;
    }
    return this.lost;
  }
}

// How long a new invitation link lasts, as the dialog offers it (hours; the server takes
// 1 to 720, default 168).
export const INVITATION_HOURS = Object.freeze([24, 168, 720]);
export const INVITATION_HOURS_DEFAULT = 168;

// The link to share: the `url` of create_invitation's answer (a path on this site) made
// absolute with the page's origin. Anything that is not a path of this site gives "".
export function invitationLink(origin, url) {
  if (typeof url !== "string" || !url.startsWith("/") || url.startsWith("//")) return "";
  return String(origin || "").replace(/\/+$/, "") + url;
}

// "2 Dec 2026, 18:30" in the page's language (and the browser's time zone); "" for a time
// that cannot be read.
export function expiryText(iso, locale, timeZone) {
  const date = new Date(iso);
  if (typeof iso !== "string" || Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone }).format(date);
}

// A username typed into a field: trimmed, "" for nothing (the server checks the rest).
export function cleanUsername(text) {
  return String(text || "").trim().replace(/^@/, "");
}

// --- the page ---------------------------------------------------------------------------
// (DOM only when called: the sidebar, the room list and the room header build with these.)

// The icon before a room's name: a lock for a private room (an image named "Private
// room"), the other side's avatar for a direct conversation, "#" for a public room (the
// last two hidden from screen readers: the name says it all).
export function roomIcon(room, me, big) {
  const span = document.createElement("span");
  if (room && room.dm) {
    const name = roomLabel(room, me);
    span.className = big ? "avatar" : "avatar small";
    span.setAttribute("aria-hidden", "true");
    span.textContent = initials(name);
    span.style.backgroundColor = avatarColor(name); // CSSOM, allowed by style-src 'self'
  } else if (room && room.private) {
    span.className = "room-lock" + (big ? " big" : "");
    span.setAttribute("role", "img");
    span.setAttribute("aria-label", gettext("Private room"));
  } else {
    span.className = "room-hash" + (big ? " big" : "");
    span.setAttribute("aria-hidden", "true");
    span.textContent = "#";
  }
  return span;
}

// Avatars the server rendered (data-avatar="bob") get their initials and colour, as
// built ones do.
export function colourAvatars(root) {
  if (typeof document === "undefined") return;
  for (const span of (root || document).querySelectorAll(".avatar[data-avatar]")) {
    span.textContent = initials(span.dataset.avatar);
    span.style.backgroundColor = avatarColor(span.dataset.avatar);
  }
}
