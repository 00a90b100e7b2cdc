// Pure helpers for the chat pages: no DOM, no globals, so `node --test tests/js/` tests them.
// What a message list looks like (grouping, day separators, avatars) and the composer's
// counter are decided here; chat.js and sidebar.js put the result into the page.

export const GROUP_WITHIN_MS = 5 * 60 * 1000; // a burst: same author within 5 minutes
export const COUNTER_FROM = 0.8; // the character counter shows from 80 % of the limit

// Up to two letters for an avatar: "alice" -> "AL", "bob_smith" -> "BS", "設計" -> "設".
export function initials(name) {
  const text = String(name || "").trim();
  if (!text) return "?";
  const parts = text.split(/[\s._\-]+/u).filter(Boolean);
  const chars = (s) => Array.from(s);
  if (parts.length >= 2) return (chars(parts[0])[0] + chars(parts[1])[0]).toUpperCase();
  const letters = chars(parts[0] || text);
  if (/^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u.test(letters[0])) {
    return letters[0];
  }
  return letters.slice(0, 2).join("").toUpperCase();
}

// A stable hue for a username (FNV-1a), so one person has one colour everywhere.
export function hue(name) {
  let h = 0x811c9dc5;
  for (const ch of String(name || "")) {
    h ^= ch.codePointAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % 360;
}

// Background colour of an avatar: dark enough for white initials to pass WCAG AA (4.5:1)
// at any hue (HSL lightness 32 % at 65 % saturation stays below a luminance of 0.18).
export function avatarColor(name) {
  return `hsl(${hue(name)} 65% 32%)`;
}

// An avatar: the initials on the name's colour (the DOM's only part of this module, used
// by the message list, the member panel and a person's card alike).
export function avatar(name) {
  const span = document.createElement("span");
  span.className = "avatar";
  span.setAttribute("aria-hidden", "true");
  span.textContent = initials(name);
  span.style.backgroundColor = avatarColor(name); // CSSOM, allowed by style-src 'self'
  return span;
}

// The local calendar day of an ISO time, as a comparable key ("2026-12-02").
export function dayKey(ts, timeZone) {
  if (!ts) return "";
  const date = new Date(ts);
  if (Number.isNaN(date.getTime())) return "";
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(date);
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

// Does message `m` continue the group of `prev` (same author, same day, within the window,
// neither deleted)?
export function continuesGroup(prev, m, timeZone) {
  if (!prev || !m || prev.user !== m.user) return false;
  if (prev.deleted || m.deleted) return false;
  const a = Date.parse(prev.ts);
  const b = Date.parse(m.ts);
  if (Number.isNaN(a) || Number.isNaN(b)) return false;
  if (b - a > GROUP_WITHIN_MS || b < a) return false;
  return dayKey(prev.ts, timeZone) === dayKey(m.ts, timeZone);
}

// For an ordered list of messages: for each, whether a day separator goes before it and
// whether it starts a new group (shows avatar and name).
export function layout(messages, timeZone) {
  const out = [];
  let prev = null;
  for (const m of messages) {
    const day = dayKey(m.ts, timeZone);
    const newDay = !prev || day !== dayKey(prev.ts, timeZone);
    out.push({ seq: m.seq, day: day, newDay: newDay, groupStart: newDay || !continuesGroup(prev, m, timeZone) });
    prev = m;
  }
  return out;
}

// Length as the server counts it: code points of the stripped body (Python's len()).
export function bodyLength(text) {
  return Array.from(String(text || "").trim()).length;
}

// The composer's counter: hidden below COUNTER_FROM of the limit, then "n left", and
// over the limit the send is refused (never a silent cut of a paste).
export function counterState(text, max) {
  const length = bodyLength(text);
  const left = max - length;
  return {
    length: length,
    left: left,
    visible: length >= Math.floor(max * COUNTER_FROM),
    over: left < 0,
  };
}

// The label of a day separator: "Today", "Yesterday" or the date in the user's locale.
export function dayLabel(ts, now, labels, locale, timeZone) {
  const key = dayKey(ts, timeZone);
  const today = dayKey(now.toISOString(), timeZone);
  const yesterday = dayKey(new Date(now.getTime() - 864e5).toISOString(), timeZone);
  if (key === today) return labels.today;
  if (key === yesterday) return labels.yesterday;
  return new Intl.DateTimeFormat(locale, { dateStyle: "full", timeZone: timeZone }).format(new Date(ts));
}
