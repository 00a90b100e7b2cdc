// Editing one's own messages (docs/protocol.md "Rich messages"): which messages the
// author may still edit (not deleted, within `config.edit_window` seconds of `ts`; 0 =
// no limit), the one Up in an empty composer edits (the user's latest), and the
// composer's "Editing your message" bar. The server decides again (`forbidden` after the
// window). `editable` and `lastEditable` are pure (`node --test tests/js/`).
import { format, gettext, locale } from "./i18n.js";

export function editable(m, me, windowSeconds, now = Date.now()) {
  if (!m || m.deleted || !me || m.user !== me) return false;
  const limit = Number(windowSeconds) || 0;
  if (limit <= 0) return true;
  const at = Date.parse(m.ts);
  if (Number.isNaN(at)) return false;
  return now - at < limit * 1000;
}

// The user's latest message that they may still edit, from messages oldest first.
export function lastEditable(messages, me, windowSeconds, now = Date.now()) {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m && m.user === me && !m.deleted) return editable(m, me, windowSeconds, now) ? m : null;
  }
  return null;
}

// The "(edited)" mark's tooltip: when.
export function editedTitle(ts, lang = locale()) {
  const date = new Date(ts);
  if (!ts || Number.isNaN(date.getTime())) return gettext("Edited");
  const when = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(date);
  return format(gettext("Edited %(time)s"), { time: when });
}

// --- the page ---------------------------------------------------------------------------

// The bar above the composer while a message is edited in it: "Editing your message ·
// Enter saves, Escape cancels" and a ✕.
export class EditBar {
  // `sendButton`: the composer's, which says "Save" while editing.
  constructor(el, onCancel, sendButton) {
    this.el = el;
    this.label = el.querySelector(".mode-label");
    this.cancelButton = el.querySelector(".mode-cancel");
    this.sendButton = sendButton || null;
    this.sendLabel = sendButton ? sendButton.textContent : "";
    this.seq = null;
    this.draft = "";
    this.saving = false;
    this.cancelButton.addEventListener("click", () => onCancel());
  }

  set(m, draft) {
    this.seq = m.seq;
    this.draft = draft;
    this.saving = false;
    this.label.textContent = gettext("Editing your message. Enter saves, Escape cancels.");
    this.el.hidden = false;
    if (this.sendButton) this.sendButton.textContent = gettext("Save");
  }

  clear() {
    const draft = this.draft;
    this.seq = null;
    this.draft = "";
    this.saving = false;
    this.el.hidden = true;
    this.label.textContent = "";
    if (this.sendButton) this.sendButton.textContent = this.sendLabel;
    return draft;
  }

  get active() {
    return this.seq !== null;
  }
}
