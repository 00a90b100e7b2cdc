// Who is in the room and who is typing (docs/protocol.md "Presence and typing"): the
// welcome's `present` and the `presence` frames after it fill the member panel and the
// header's "3 online"; `typing` frames the line above the composer. Neither is stored:
// a reconnect starts both again from the new welcome.
//
// The pure parts (Members, Typists, typingText, TypingSender) have no DOM, so
// `node --test tests/js/` checks them; MemberPanel and TypingLine put them on the page.
// In a private room the panel lists every member (the welcome's and room_updated's
// `members`), those online first, the others greyed as offline (rooms.js memberRows).
// Everyone's name but the user's own is a button that opens their card (people.js).
import { format, gettext, ngettext } from "./i18n.js";
import { avatar } from "./ui.js";
import { memberRows } from "./rooms.js";

export const TYPING_EXPIRES_MS = 6000; // a typist shows this long after their last frame
export const TYPING_EVERY_MS = 3000; // the composer says "typing" at most this often

// Usernames sorted as the server sorts them (by code point), so every page agrees.
function sorted(names) {
  return Array.from(names).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

// The users online in the room (the page's own user among them).
export class Members {
  constructor() {
    this.names = new Set();
  }

  // The welcome's `present`: the whole list, after every (re)connect.
  reset(present) {
    this.names = new Set(Array.isArray(present) ? present.filter((n) => typeof n === "string") : []);
  }

  // A `presence` frame: whether the list changed.
  set(user, online) {
    if (typeof user !== "string" || !user) return false;
    if (online) {
      if (this.names.has(user)) return false;
      this.names.add(user);
      return true;
    }
    return this.names.delete(user);
  }

  // A `presence_changes` frame (several changes at once: a room filling after a
  // deploy): whether the list changed.
  apply(online, offline) {
    let changed = false;
    for (const name of Array.isArray(online) ? online : []) changed = this.set(name, true) || changed;
    for (const name of Array.isArray(offline) ? offline : []) changed = this.set(name, false) || changed;
    return changed;
  }

  list() {
    return sorted(this.names);
  }

  get size() {
    return this.names.size;
  }
}

// Who is typing: each typist until TYPING_EXPIRES_MS after their last frame (or until
// their message arrives: stop). Times are passed in, so tests need no clock.
export class Typists {
  constructor(expiresMs = TYPING_EXPIRES_MS) {
    this.expiresMs = expiresMs;
    this.until = new Map(); // user -> when they stop showing
  }

  // A `typing` frame: whether who is typing changed (not a refresh of a known typist).
  typing(user, now) {
    if (typeof user !== "string" || !user) return false;
    const had = this.until.has(user);
    this.until.set(user, now + this.expiresMs);
    return !had;
  }

  stop(user) {
    return this.until.delete(user);
  }

  clear() {
    const had = this.until.size > 0;
    this.until.clear();
    return had;
  }

  // Forget the typists whose time is up: whether any went.
  expire(now) {
    let changed = false;
    for (const [user, until] of this.until) {
      if (until <= now) {
        this.until.delete(user);
        changed = true;
      }
    }
    return changed;
  }

  names() {
    return sorted(this.until.keys());
  }

  // When the next typist's time is up (null: nobody is typing).
  nextExpiry() {
    let next = null;
    for (const until of this.until.values()) if (next === null || until < next) next = until;
    return next;
  }
}

// The line above the composer: "" when nobody types.
export function typingText(names) {
  if (!names || names.length === 0) return "";
  if (names.length === 1) return format(gettext("%(name)s is typing…"), { name: names[0] });
  if (names.length === 2) {
    return format(gettext("%(first)s and %(second)s are typing…"), { first: names[0], second: names[1] });
  }
  return gettext("Several people are typing…");
}

// When the composer sends `typing`: on input with something in it, at most every
// TYPING_EVERY_MS; after a message is sent (reset) the next keystroke says so at once.
export class TypingSender {
  constructor(everyMs = TYPING_EVERY_MS) {
    this.everyMs = everyMs;
    this.last = null;
  }

  input(text, now) {
    if (!String(text || "").trim()) return false;
    if (this.last !== null && now - this.last < this.everyMs) return false;
    this.last = now;
    return true;
  }

  reset() {
    this.last = null;
  }
}

// --- the page ---------------------------------------------------------------------------

const PHONE = "(max-width: 800px)";

function popoverOpen() {
  try {
    return document.querySelector(":popover-open") !== null;
  } catch (err) {
    return false; // a browser without popovers has none open
  }
}

// The header's "3 online" button and the panel it opens: a column on the right on wide
// screens, a drawer over the room on phones (focus goes into it; Esc or the scrim close it).
export class MemberPanel {
  constructor({ toggle, count, panel, list, close, scrim, me }) {
    Object.assign(this, { toggle, count, panel, list, closeButton: close, scrim, me });
    this.members = new Members();
    this.names = null; // a private room's members (all of them); null: a public room
    this.ready = false; // nothing is shown before the first welcome's `present`
    this.title = document.getElementById("member-panel-title");
    this.closeLabel = document.getElementById("member-panel-close-label");
    toggle.addEventListener("click", () => (this.isOpen() ? this.close(true) : this.open()));
    if (close) close.addEventListener("click", () => this.close(true));
    if (scrim) scrim.addEventListener("click", () => this.close(true));
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || event.defaultPrevented || !this.isOpen()) return;
      if (document.querySelector("dialog[open]") || popoverOpen()) return;
      if (!this.phone() && !this.panel.contains(document.activeElement)) return;
      event.preventDefault();
      this.close(true);
    });
  }

  phone() {
    return window.matchMedia(PHONE).matches;
  }

  isOpen() {
    return !this.panel.hidden;
  }

  open() {
    this.panel.hidden = false;
    document.body.classList.add("members-open");
    this.toggle.setAttribute("aria-expanded", "true");
    if (this.phone() && this.closeButton) this.closeButton.focus();
  }

  close(refocus) {
    const inside = this.panel.contains(document.activeElement);
    this.panel.hidden = true;
    document.body.classList.remove("members-open");
    this.toggle.setAttribute("aria-expanded", "false");
    if (refocus || inside) this.toggle.focus();
  }

  reset(present) {
    this.members.reset(present);
    this.ready = true;
    this.render();
  }

  // A private room's members (null for a public room), from welcome and room_updated.
  roster(names) {
    const next = Array.isArray(names) ? names.filter((n) => typeof n === "string" && n) : null;
    if (JSON.stringify(next) === JSON.stringify(this.names)) return;
    this.names = next;
    for (const node of [this.title, this.closeLabel]) {
      if (node && node.dataset.private) node.textContent = next ? node.dataset.private : node.dataset.public;
    }
    this.render();
  }

  // Whether `name` is a member of this private room (false in a public room).
  isMember(name) {
    return Array.isArray(this.names) && this.names.includes(name);
  }

  isOnline(name) {
    return this.members.names.has(name);
  }

  presence(user, online) {
    if (this.members.set(user, online)) this.render();
  }

  changes(online, offline) {
    if (this.members.apply(online, offline)) this.render(); // once, however many
  }

  render() {
    if (!this.ready) return;
    const names = this.members.list();
    this.count.textContent = format(ngettext("%(n)s online", "%(n)s online", names.length), { n: names.length });
    this.toggle.hidden = false;
    const rows = memberRows(this.names, names, this.me);
    this.list.replaceChildren(...rows.map((row) => this.item(row)));
    this.list.dispatchEvent(new CustomEvent("chat:members", { bubbles: true }));
  }

  item(row) {
    const li = document.createElement("li");
    li.className = "member" + (row.online ? " online" : " offline");
    li.dataset.user = row.name;
    const label = document.createElement("span");
    label.className = "member-name";
    label.textContent = row.name;
    const face = avatar(row.name);
    const parts = [face, label];
    if (row.me) {
      li.classList.add("me");
      const you = document.createElement("span");
      you.className = "member-you";
      you.textContent = gettext("(you)");
      parts.push(" ", you);
    } else if (!row.online) {
      const off = document.createElement("span");
      off.className = "member-you member-offline";
      off.textContent = gettext("(offline)");
      parts.push(" ", off);
    }
    if (row.me) {
      li.append(...parts);
      return li;
    }
    // Someone else: their card (people.js) offers "Message bob" and, to a moderator of a
    // private room, "Remove from room".
    const button = document.createElement("button");
    button.type = "button";
    button.className = "member-button";
    button.dataset.userMenu = row.name;
    button.setAttribute("aria-haspopup", "dialog");
    button.append(...parts);
    li.append(button);
    return li;
  }
}

// The "alice is typing…" line: an aria-live region whose text changes only when who is
// typing changes (a typist's refresh every few seconds says nothing new).
export class TypingLine {
  constructor(el, now = () => Date.now()) {
    this.el = el;
    this.now = now;
    this.typists = new Typists();
    this.timer = null;
  }

  typing(user) {
    this.typists.typing(user, this.now());
    this.render();
  }

  stop(user) {
    if (this.typists.stop(user)) this.render();
  }

  clear() {
    this.typists.clear();
    this.render();
  }

  render() {
    const now = this.now();
    this.typists.expire(now);
    const text = typingText(this.typists.names());
    if (this.el.textContent !== text) this.el.textContent = text;
    clearTimeout(this.timer);
    const next = this.typists.nextExpiry();
    this.timer = next === null ? null : setTimeout(() => this.render(), Math.max(0, next - now) + 20);
  }
}
