// @mentions in the composer (docs/protocol.md "Rich messages"): typing "@" and the start
// of a name opens a list of the room's people whose names start with it (the ARIA
// combobox pattern on the textarea: ↑/↓ move, Enter or Tab picks, Escape closes). The
// people: a private room's members, else who is online and the authors of the loaded
// messages; never the user themself. The server decides who is really mentioned (and
// highlights them in `html`). `mentionQuery`, `matchPeople` and `complete` are pure
// (`node --test tests/js/`); `MentionBox` puts them on the page.
import { format, gettext, ngettext } from "./i18n.js";

export const SUGGESTIONS_MAX = 8;
const NAME_CHAR = /[\p{L}\p{N}_.+-]/u;

// The "@al" being typed just before the caret: {start, query} (start: the index of "@"),
// or null. The "@" must start a word (not "bob@example.com"), and at least one
// character of a name must follow it.
export function mentionQuery(text, caret) {
  const value = String(text || "");
  const end = typeof caret === "number" ? caret : value.length;
  let i = end;
  while (i > 0 && NAME_CHAR.test(value[i - 1])) i--;
  if (i === 0 || value[i - 1] !== "@") return null;
  const at = i - 1;
  if (at > 0 && /[\p{L}\p{N}_@]/u.test(value[at - 1])) return null;
  const query = value.slice(i, end);
  if (!query || query.length > 150) return null;
  return { start: at, query: query };
}

// The names starting with `query` (case-insensitively), without `me`, each once, in
// alphabetical order (case-insensitive), at most `limit`.
export function matchPeople(names, query, me, limit = SUGGESTIONS_MAX) {
  const q = String(query || "").toLowerCase();
  const seen = new Set();
  const out = [];
  for (const name of names || []) {
    if (typeof name !== "string" || !name || name === me) continue;
    const key = name.toLowerCase();
    if (seen.has(key) || !key.startsWith(q)) continue;
    seen.add(key);
    out.push(name);
  }
  out.sort((a, b) => {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return out.slice(0, limit);
}

// The text with the query at `start`..`caret` replaced by "@name " and where the caret goes.
export function complete(text, start, caret, name) {
  const value = String(text || "");
  const after = value.slice(caret);
  const insert = "@" + name + (after.startsWith(" ") ? "" : " ");
  return { text: value.slice(0, start) + insert + after, caret: start + insert.length + (after.startsWith(" ") ? 1 : 0) };
}

// --- the page ---------------------------------------------------------------------------

// The suggestions under the composer's textarea. `people()` gives the candidates at the
// moment of typing; `me` is left out.
export class MentionBox {
  constructor({ input, list, status, people, me }) {
    Object.assign(this, { input, list, status, people, me });
    this.items = [];
    this.active = -1;
    this.query = null;
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", gettext("People to mention"));
    list.hidden = true;
    input.addEventListener("input", () => this.update());
    input.addEventListener("click", () => this.update());
    input.addEventListener("blur", () => setTimeout(() => {
      if (document.activeElement !== this.input) this.close();
    }, 150));
    // A pointer picks without taking the focus from the textarea.
    list.addEventListener("mousedown", (event) => event.preventDefault());
    list.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) this.pick(Number(option.dataset.index));
    });
  }

  get open() {
    return !this.list.hidden;
  }

  update() {
    const q = mentionQuery(this.input.value, this.input.selectionStart);
    if (!q || this.input.selectionStart !== this.input.selectionEnd) return this.close();
    const names = matchPeople(this.people(), q.query, this.me);
    if (!names.length) return this.close();
    const keep = this.active >= 0 ? this.items[this.active] : null;
    this.query = q;
    this.items = names;
    this.active = Math.max(0, keep ? names.indexOf(keep) : 0);
    this.render();
  }

  render() {
    const options = this.items.map((name, index) => {
      const li = document.createElement("li");
      li.id = "mention-option-" + index;
      li.className = "mention-option";
      li.setAttribute("role", "option");
      li.dataset.index = String(index);
      li.dataset.user = name;
      li.setAttribute("aria-selected", index === this.active ? "true" : "false");
      li.textContent = "@" + name;
      return li;
    });
    const wasOpen = this.open;
    this.list.replaceChildren(...options);
    this.list.hidden = false;
    this.input.setAttribute("aria-activedescendant", "mention-option-" + this.active);
    const current = options[this.active];
    if (current && current.scrollIntoView) current.scrollIntoView({ block: "nearest" });
    // Said once when the list opens or its length changes, not on every keystroke.
    const text = format(ngettext("%(n)s person to mention", "%(n)s people to mention", this.items.length), { n: this.items.length });
    if (!wasOpen || this.status.textContent !== text) this.status.textContent = text;
  }

  close() {
    if (!this.open && this.query === null) return;
    this.list.hidden = true;
    this.list.replaceChildren();
    this.items = [];
    this.active = -1;
    this.query = null;
    this.input.removeAttribute("aria-activedescendant");
    this.status.textContent = "";
  }

  move(by) {
    if (!this.items.length) return;
    this.active = (this.active + by + this.items.length) % this.items.length;
    this.render();
  }

  pick(index) {
    const name = this.items[index];
    const q = this.query;
    if (!name || !q) return;
    const done = complete(this.input.value, q.start, this.input.selectionStart, name);
    this.input.value = done.text;
    this.input.setSelectionRange(done.caret, done.caret);
    this.close();
    this.input.focus();
    this.input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // The composer's keydown: true when the list took the key.
  keydown(event) {
    if (!this.open || event.isComposing) return false;
    switch (event.key) {
      case "ArrowDown":
        this.move(1);
        break;
      case "ArrowUp":
        this.move(-1);
        break;
      case "Enter":
      case "Tab":
        if (event.shiftKey) return false;
        this.pick(this.active);
        break;
      case "Escape":
        this.close();
        break;
      default:
        return false;
    }
    event.preventDefault();
    event.stopPropagation();
    return true;
  }
}
