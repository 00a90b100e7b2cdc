// Reactions under a message (docs/protocol.md "Rich messages"): chips of emoji + count,
// pressed when this user reacted; a click toggles (`react`), and `reactions` frames (the
// message's whole list, as it is now) replace what is shown.
//
// The pure part, for `node --test tests/js/`: a click shows at once (a pending toggle
// over the server's list: `merged`), and a pending toggle is forgotten once the server's
// list agrees with it (`settle`), its `ok`/`error` came, or it is too old; the server's
// list always wins. `reactionLabel` is a chip's accessible name, `reactors` its tooltip.
// `Chips` puts the list into a message; `Picker` is the "Add a reaction" popover.
import { format, gettext, ngettext } from "./i18n.js";
import { COMMON, oneEmoji } from "./emoji.js";

export const REACTIONS_MAX = 20; // chat/protocol.py REACTIONS_MAX (also config.reactions_max)
export const PENDING_MS = 10000; // a toggle the server never answered stops showing

// A server list, cleaned: [{emoji, users: [names]}] with at least one user each.
export function normalize(reactions) {
  if (!Array.isArray(reactions)) return [];
  const out = [];
  for (const r of reactions) {
    if (!r || typeof r.emoji !== "string" || !r.emoji || !Array.isArray(r.users)) continue;
    const users = r.users.filter((u) => typeof u === "string" && u);
    if (users.length) out.push({ emoji: r.emoji, users: users });
  }
  return out;
}

export function hasReacted(reactions, emoji, me) {
  return normalize(reactions).some((r) => r.emoji === emoji && r.users.includes(me));
}

// The list after `me` toggles `emoji` (as the server will do it): off if they had
// reacted with it, else on (a new emoji goes last).
export function toggled(reactions, emoji, me) {
  const list = normalize(reactions).map((r) => ({ emoji: r.emoji, users: r.users.slice() }));
  return setReaction(list, emoji, me, !hasReacted(list, emoji, me));
}

function setReaction(list, emoji, me, on) {
  const entry = list.find((r) => r.emoji === emoji);
  if (on) {
    if (!entry) list.push({ emoji: emoji, users: [me] });
    else if (!entry.users.includes(me)) entry.users.push(me);
    return list;
  }
  if (!entry) return list;
  entry.users = entry.users.filter((u) => u !== me);
  return list.filter((r) => r.users.length > 0);
}

// What to show: the server's list with this user's pending toggles (emoji -> on) applied.
export function merged(reactions, pending, me) {
  let list = normalize(reactions).map((r) => ({ emoji: r.emoji, users: r.users.slice() }));
  if (!pending) return list;
  for (const [emoji, want] of pending) list = setReaction(list, emoji, me, want.on);
  return list;
}

// Forget the pending toggles the server's list already shows, and those older than
// PENDING_MS at `now`. Returns the map (changed in place).
export function settle(reactions, pending, me, now) {
  if (!pending) return pending;
  for (const [emoji, want] of Array.from(pending)) {
    const stale = typeof now === "number" && now - want.at > PENDING_MS;
    if (stale || hasReacted(reactions, emoji, me) === want.on) pending.delete(emoji);
  }
  return pending;
}

// Whether one more distinct emoji may go on a message (one already there always may).
export function mayAdd(reactions, emoji, max = REACTIONS_MAX) {
  const list = normalize(reactions);
  return list.some((r) => r.emoji === emoji) || list.length < (max || REACTIONS_MAX);
}

// Who reacted, for the tooltip: "alice, bob" (the list says "you" for nobody: names are
// what people look for).
export function reactors(users) {
  return (users || []).join(gettext(", "));
}

// A chip's accessible name: "👍 2 reactions: alice, bob".
export function reactionLabel(reaction) {
  const n = reaction.users.length;
  return format(ngettext("%(emoji)s %(n)s reaction: %(users)s", "%(emoji)s %(n)s reactions: %(users)s", n), {
    emoji: reaction.emoji,
    n: n,
    users: reactors(reaction.users),
  });
}

// --- the page ---------------------------------------------------------------------------

// The chips of one message, in its `.reactions` box. `onToggle(emoji)` on a click;
// `onAdd(button)` for the "+" that opens the picker.
export function renderChips(box, reactions, me, { onToggle, onAdd }) {
  box.replaceChildren();
  const list = normalize(reactions);
  box.hidden = list.length === 0;
  for (const r of list) {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "reaction";
    chip.dataset.emoji = r.emoji;
    const mine = r.users.includes(me);
    chip.setAttribute("aria-pressed", mine ? "true" : "false");
    chip.title = reactors(r.users);
    chip.setAttribute("aria-label", reactionLabel(r));
    const face = document.createElement("span");
    face.className = "reaction-emoji";
    face.setAttribute("aria-hidden", "true");
    face.textContent = r.emoji;
    const count = document.createElement("span");
    count.className = "reaction-count";
    count.setAttribute("aria-hidden", "true");
    count.textContent = String(r.users.length);
    chip.append(face, count);
    chip.addEventListener("click", () => onToggle(r.emoji));
    box.append(chip);
  }
  if (list.length) {
    const add = document.createElement("button");
    add.type = "button";
    add.className = "reaction reaction-add";
    add.setAttribute("aria-haspopup", "dialog");
    add.setAttribute("aria-label", gettext("Add a reaction"));
    add.title = gettext("Add a reaction");
    add.textContent = "+";
    add.addEventListener("click", () => onAdd(add));
    box.append(add);
  }
}

// "Add a reaction": a small modal <dialog> by the button that opened it (focus stays in
// it; Escape or a click outside closes it, and focus goes back). The common emoji, and a
// field for any one emoji. `open(opener, {reactions, me, max, onPick, refocus})`:
// `refocus()` when the opener is gone by the time it closes (the chips were redrawn).
export class Picker {
  constructor() {
    this.dialog = document.createElement("dialog");
    this.dialog.className = "picker";
    this.dialog.id = "reaction-picker";
    this.dialog.setAttribute("aria-labelledby", "reaction-picker-title");
    const title = document.createElement("h2");
    title.id = "reaction-picker-title";
    title.className = "visually-hidden";
    title.textContent = gettext("Add a reaction");
    this.grid = document.createElement("div");
    this.grid.className = "picker-grid";
    this.grid.setAttribute("role", "group");
    this.grid.setAttribute("aria-label", gettext("Common reactions"));
    for (const item of COMMON) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "picker-emoji";
      b.dataset.emoji = item.emoji;
      b.textContent = item.emoji;
      b.title = item.name();
      b.setAttribute("aria-label", item.emoji + " " + item.name());
      b.addEventListener("click", () => this.pick(item.emoji));
      this.grid.append(b);
    }
    // Arrow keys move between the common emoji (a row of four, two rows).
    this.grid.addEventListener("keydown", (event) => {
      const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -4, ArrowDown: 4 };
      if (!(event.key in moves)) return;
      const items = Array.from(this.grid.querySelectorAll("button"));
      const at = items.indexOf(document.activeElement);
      if (at < 0) return;
      event.preventDefault();
      const next = Math.min(items.length - 1, Math.max(0, at + moves[event.key]));
      items[next].focus();
    });
    const form = document.createElement("form");
    form.className = "picker-form";
    form.noValidate = true;
    const label = document.createElement("label");
    label.htmlFor = "reaction-picker-input";
    label.textContent = gettext("Any emoji");
    this.input = document.createElement("input");
    this.input.type = "text";
    this.input.id = "reaction-picker-input";
    this.input.autocomplete = "off";
    this.input.maxLength = 32;
    this.input.setAttribute("aria-describedby", "reaction-picker-status");
    const add = document.createElement("button");
    add.type = "submit";
    add.className = "secondary";
    add.textContent = gettext("Add");
    const row = document.createElement("div");
    row.className = "row";
    row.append(this.input, add);
    this.status = document.createElement("p");
    this.status.className = "picker-status";
    this.status.id = "reaction-picker-status";
    this.status.setAttribute("role", "status");
    form.append(label, row, this.status);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const emoji = oneEmoji(this.input.value);
      if (!emoji) {
        this.say(gettext("Type exactly one emoji."));
        this.input.setAttribute("aria-invalid", "true");
        this.input.focus();
        return;
      }
      this.pick(emoji);
    });
    this.input.addEventListener("input", () => this.input.removeAttribute("aria-invalid"));
    this.dialog.append(title, this.grid, form);
    document.body.append(this.dialog);
    this.options = null;
    this.opener = null;
    // A click on the backdrop (outside the box) closes it.
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog) this.close();
    });
    // Tab stays inside (the dialog is modal: the page behind is inert; this keeps the
    // cycle within it rather than through the browser's own controls).
    this.dialog.addEventListener("keydown", (event) => {
      if (event.key !== "Tab") return;
      const items = Array.from(this.dialog.querySelectorAll("button, input")).filter((b) => !b.disabled);
      if (!items.length) return;
      const first = items[0];
      const last = items[items.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    });
    this.dialog.addEventListener("close", () => {
      const opener = this.opener;
      const options = this.options;
      this.opener = null;
      this.options = null;
      if (opener && opener.isConnected) opener.focus();
      else if (options && options.refocus) options.refocus(); // its chips were redrawn
      else if (window.chat) window.chat.focusComposer();
    });
  }

  isOpen() {
    return this.dialog.open;
  }

  say(text) {
    this.status.textContent = text;
  }

  open(opener, options) {
    if (this.dialog.open) this.dialog.close();
    this.options = options;
    this.opener = opener;
    this.input.value = "";
    this.input.removeAttribute("aria-invalid");
    this.say("");
    for (const b of this.grid.querySelectorAll("button")) {
      b.setAttribute("aria-pressed", hasReacted(options.reactions, b.dataset.emoji, options.me) ? "true" : "false");
    }
    // Where the opener is before the dialog takes the focus (a touch screen hides the
    // message's actions once the focus leaves the message).
    const at = opener && opener.isConnected ? opener.getBoundingClientRect() : null;
    this.dialog.showModal();
    this.place(at && at.width ? at : null);
    this.grid.querySelector("button").focus();
  }

  // Next to the opener's box `at` (else in the middle), inside the window (CSSOM:
  // allowed by the CSP).
  place(at) {
    const box = this.dialog.getBoundingClientRect();
    const margin = 8;
    let top = at ? at.bottom + 4 : (window.innerHeight - box.height) / 2;
    if (top + box.height > window.innerHeight - margin) top = Math.max(margin, (at ? at.top : window.innerHeight) - box.height - 4);
    let left = at ? at.right - box.width : (window.innerWidth - box.width) / 2;
    left = Math.min(Math.max(margin, left), window.innerWidth - box.width - margin);
    this.dialog.style.top = Math.round(top) + "px";
    this.dialog.style.left = Math.round(left) + "px";
  }

  pick(emoji) {
    const options = this.options;
    if (!options) return;
    if (!mayAdd(options.reactions, emoji, options.max)) {
      this.say(format(gettext("This message has the most reactions it can have (%(n)s)."), { n: options.max || REACTIONS_MAX }));
      return;
    }
    this.dialog.close();
    options.onPick(emoji);
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }
}
