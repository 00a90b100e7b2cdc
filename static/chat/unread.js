// Read markers and unread counts (docs/protocol.md "Read markers and unread counts", "The
// user's stream"): what the room page tells the server it has read, each room's counts as
// the user's stream reports them, the badges that show them, and the document title.
//
// The pure parts (ReadTracker, CountStore, firstUnread, unreadAbove, badgeParts,
// titleWithCount) have no DOM, so `node --test tests/js/` checks them; badgeElements and
// refreshTitle touch the page only when called. `counts` is the page's one store: sidebar.js
// fills it from the home socket (`hello`, `rooms`, `unread`) and from the room socket's
// copies of the same frames; chat.js, sidebar.js and roomlist.js show it.
import { format, ngettext } from "./i18n.js";

export const READ_DEBOUNCE_MS = 500; // at most one `read` per half second

function count(value) {
  return Number.isSafeInteger(value) && value > 0 ? value : 0;
}

// A room's counts from a room summary or an `unread` frame (or the page's data-* values).
export function countsOf(obj) {
  if (!obj || typeof obj !== "object") return null;
  return {
    last_seq: count(Number(obj.last_seq)),
    last_read: count(Number(obj.last_read)),
    unread: count(Number(obj.unread)),
    mentions: count(Number(obj.mentions)),
  };
}

// Whether `incoming` describes an older state than `known`. A room's last_seq and a
// user's last_read only ever rise on the server, so counts with both at or below the
// known ones (one strictly) were computed before them: frames from two sockets (the room
// socket and the home socket) may arrive in either order. Equal seqs are not older (a
// deletion changes the counts and neither seq).
export function isStale(known, incoming) {
  if (!known || !incoming) return false;
  const notNewer = incoming.last_seq <= known.last_seq && incoming.last_read <= known.last_read;
  return notNewer && (incoming.last_seq < known.last_seq || incoming.last_read < known.last_read);
}

// Each room's counts for this user, by slug, with listeners told of every change.
export class CountStore {
  constructor() {
    this.rooms = new Map();
    this.listeners = new Set();
  }

  get(slug) {
    return this.rooms.get(slug) || null;
  }

  // One room's counts (an `unread` frame): whether what is kept changed.
  set(slug, obj) {
    const incoming = countsOf(obj);
    if (typeof slug !== "string" || !incoming) return false;
    const known = this.rooms.get(slug);
    if (isStale(known, incoming) || sameCounts(known, incoming)) return false;
    this.rooms.set(slug, incoming);
    this.notify(slug);
    return true;
  }

  // The whole list (`hello`, `rooms`): rooms not in it are forgotten (deleted, or no
  // longer visible), so a room made again under the same slug starts afresh.
  replace(rooms) {
    if (!Array.isArray(rooms)) return;
    const next = new Map();
    for (const room of rooms) {
      if (!room || typeof room.slug !== "string") continue;
      const incoming = countsOf(room);
      const known = this.rooms.get(room.slug);
      next.set(room.slug, isStale(known, incoming) ? known : incoming);
    }
    this.rooms = next;
    this.notify(null);
  }

  // Unread messages in every room but `except` (the room on screen).
  total(except) {
    let n = 0;
    for (const [slug, c] of this.rooms) if (slug !== except) n += c.unread;
    return n;
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(slug) {
    for (const listener of this.listeners) listener(slug);
  }
}

function sameCounts(a, b) {
  return Boolean(a && b) && a.last_seq === b.last_seq && a.last_read === b.last_read &&
    a.unread === b.unread && a.mentions === b.mentions;
}

export const counts = new CountStore();

// What the room page says it has read. `read`: the highest seq the server knows this user
// read (the welcome's last_read, `unread` frames from other tabs, what this page sent);
// nothing at or below it is ever sent again. `limit`: the room's newest seq known (the
// welcome's last_seq, the newest message shown); nothing above it is sent.
export class ReadTracker {
  constructor(read = 0) {
    this.read = count(read);
    this.limit = 0;
  }

  known(seq) {
    if (count(seq) > this.read) this.read = seq;
  }

  setLimit(seq) {
    if (count(seq) > this.limit) this.limit = seq;
  }

  // The highest seq on screen now: the seq to send in a `read`, or null for none.
  next(seen) {
    const seq = Math.min(count(seen), this.limit);
    return seq > this.read ? seq : null;
  }

  sent(seq) {
    this.known(seq);
  }
}

// The seq of the first message above `lastRead` by someone else (the "new messages"
// divider goes above it), or null. `messages` oldest first.
export function firstUnread(messages, lastRead, me) {
  for (const m of messages) {
    if (m && m.seq > lastRead && m.user !== me && !m.deleted) return m.seq;
  }
  return null;
}

// How many of `messages` are unread: above `lastRead`, someone else's, not deleted (as
// the server counts them).
export function unreadAbove(messages, lastRead, me) {
  let n = 0;
  for (const m of messages) if (m && m.seq > lastRead && m.user !== me && !m.deleted) n++;
  return n;
}

// The badges for a room's counts: a mention badge, then the unread one, each with the
// words a screen reader says for it.
export function badgeParts(c) {
  const parts = [];
  if (!c) return parts;
  if (c.mentions > 0) {
    parts.push({
      kind: "mention",
      text: "@" + short(c.mentions),
      label: format(ngettext("%(n)s mention", "%(n)s mentions", c.mentions), { n: c.mentions }),
    });
  }
  if (c.unread > 0) {
    parts.push({
      kind: "unread",
      text: short(c.unread),
      label: format(ngettext("%(n)s unread", "%(n)s unread", c.unread), { n: c.unread }),
    });
  }
  return parts;
}

function short(n) {
  return n > 99 ? "99+" : String(n);
}

// "(3) Design Review · Chat"; the title as it is for none.
export function titleWithCount(title, n) {
  return n > 0 ? "(" + n + ") " + title : title;
}

// --- the page ---------------------------------------------------------------------------

// <span class="badge unread"><span aria-hidden="true">3</span><span class="visually-hidden">
// 3 unread</span></span>: the number for the eye, the words for a screen reader (a link's
// name then ends "... 3 unread").
export function badgeElements(c) {
  return badgeParts(c).map(function (part) {
    const badge = document.createElement("span");
    badge.className = "badge " + part.kind;
    const shown = document.createElement("span");
    shown.setAttribute("aria-hidden", "true");
    shown.textContent = part.text;
    const words = document.createElement("span");
    words.className = "visually-hidden";
    words.textContent = " " + part.label;
    badge.append(shown, words);
    return badge;
  });
}

// Put `c`'s badges into `container` in place of its old ones (before `before`, if given).
export function showBadges(container, c, before) {
  container.querySelectorAll(":scope > .badge").forEach((b) => b.remove());
  const badges = badgeElements(c);
  for (const badge of badges) container.insertBefore(badge, before || null);
  return badges.length > 0;
}

// The document title: its base and, while anything is unread, "(n) " before it: the
// unread of every room but the one on screen, plus that room's own (`here()`) while the
// tab is hidden.
const title = { base: null, current: "", here: () => 0 };

export function configureTitle(options) {
  Object.assign(title, options);
  refreshTitle();
}

export function refreshTitle() {
  if (title.base === null || typeof document === "undefined") return;
  const hidden = document.visibilityState === "hidden";
  const n = counts.total(title.current) + (hidden ? title.here() : 0);
  const text = titleWithCount(title.base, n);
  if (document.title !== text) document.title = text;
}

counts.subscribe(refreshTitle);

// Counts the page was rendered with (data-last-seq, data-last-read, data-unread,
// data-mentions on `selector`'s elements, keyed by data-room), before any socket says more.
export function seedFrom(selector) {
  if (typeof document === "undefined") return;
  for (const node of document.querySelectorAll(selector)) {
    const d = node.dataset;
    if (!d.room || d.unread === undefined) continue;
    counts.set(d.room, { last_seq: d.lastSeq, last_read: d.lastRead, unread: d.unread, mentions: d.mentions });
  }
}
