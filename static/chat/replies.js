// Replies (docs/protocol.md "Rich messages"): a message with `reply_to` shows a quote of
// the message it answers (its author and the start of its body, as text) that jumps to
// it; the composer's "Replying to bob: ..." bar while a reply is being written.
// `excerpt` and `quoteText` are pure (`node --test tests/js/`); `quoteElement` and
// `ReplyBar` put them on the page.
import { format, gettext } from "./i18n.js";

export const EXCERPT_CHARS = 100;

// The start of a body as one line of text: white space folded, at most `max` characters
// (code points, never half a surrogate pair), "…" when cut.
export function excerpt(body, max = EXCERPT_CHARS) {
  const text = String(body == null ? "" : body).replace(/\s+/gu, " ").trim();
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return chars.slice(0, max).join("").trimEnd() + "…";
}

// What a quote says of the original `m` (null: not loaded yet): {user, text, state}.
export function quoteText(m) {
  if (!m) return { user: "", text: gettext("Loading…"), state: "loading" };
  if (m.deleted) return { user: m.user || "", text: gettext("This message was deleted."), state: "deleted" };
  return { user: m.user || "", text: excerpt(m.body), state: "ok" };
}

// --- the page ---------------------------------------------------------------------------

// The quote above a reply's body: a button that jumps to the original (`onJump(seq)`).
export function quoteElement(seq, original, onJump) {
  const quote = document.createElement("button");
  quote.type = "button";
  quote.className = "reply-quote";
  quote.dataset.replyTo = String(seq);
  quote.tabIndex = -1; // in the Tab sequence only while its message has focus (keys.js)
  quote.addEventListener("click", () => onJump(seq));
  fillQuote(quote, original);
  return quote;
}

export function fillQuote(quote, original) {
  const q = quoteText(original);
  quote.dataset.state = q.state;
  const user = document.createElement("span");
  user.className = "reply-user";
  user.textContent = q.user;
  const text = document.createElement("span");
  text.className = "reply-text";
  text.textContent = q.text;
  quote.replaceChildren(user, text);
  quote.setAttribute(
    "aria-label",
    q.user
      ? format(gettext("In reply to %(user)s: %(text)s. Go to the message."), { user: q.user, text: q.text })
      : gettext("In reply to a message. Go to the message."),
  );
}

// The bar above the composer while a reply is written: "Replying to bob: <excerpt>" and
// a ✕ that cancels. `onCancel` when cancelled from the bar.
export class ReplyBar {
  constructor(el, onCancel) {
    this.el = el;
    this.label = el.querySelector(".mode-label");
    this.cancelButton = el.querySelector(".mode-cancel");
    this.seq = null;
    this.cancelButton.addEventListener("click", () => {
      this.clear();
      onCancel();
    });
  }

  set(m) {
    this.seq = m.seq;
    const text = m.deleted ? gettext("This message was deleted.") : excerpt(m.body, 80);
    this.label.textContent = format(gettext("Replying to %(user)s: %(text)s"), { user: m.user, text: text });
    this.el.hidden = false;
  }

  clear() {
    this.seq = null;
    this.el.hidden = true;
    this.label.textContent = "";
  }

  get active() {
    return this.seq !== null;
  }
}
