// The client's delivery rules (docs/protocol.md "The client"), without the DOM or the
// socket, so `node --test tests/js/` checks them: display by seq (duplicates dropped, a
// message beyond a gap held until the gap is filled, a gap the server proves purged
// skipped), the reconnect backoff with jitter, and which refusals are final for a post in
// the outbox.

import { ERROR } from "./errors.js";

export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 30000;

// Refusals after which a post is shown failed and never resent; any other error code
// (unavailable, rate_limited...) means "nothing stored, send the same client_id again".
export const FINAL_CODES = new Set([ERROR.TOO_LONG, ERROR.EMPTY, ERROR.FORBIDDEN, ERROR.BAD_REQUEST]);

// Close codes after the handshake (chat/errors.py CloseCode).
export const CLOSE = Object.freeze({ REMOVED: 4403, ROOM_DELETED: 4404, TOO_SLOW: 4408 });

// A server frame from a socket message: the JSON object, or null for anything else.
export function readFrame(text) {
  let frame;
  try {
    frame = JSON.parse(text);
  } catch (err) {
    return null;
  }
  return frame && typeof frame === "object" ? frame : null;
}

// "Equal jitter": attempt n waits between half and all of min(30 s, 0.5 s * 2^n).
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  return base / 2 + random() * (base / 2);
}

// Display by seq. `last` is the highest seq shown; every seq up to it is shown.
export class SeqOrder {
  constructor(last = 0) {
    this.last = last;
    this.ahead = new Map(); // seq -> message received beyond a gap
  }

  // Take a batch (a live frame, a welcome, a history page): `display` is what to append,
  // in seq order; `known` are messages at or below `last` (duplicates, or a newer view of
  // a shown message, e.g. deleted); what is above a gap waits in `ahead`.
  take(messages) {
    const known = [];
    for (const m of messages) {
      if (m.seq <= this.last) known.push(m);
      else this.ahead.set(m.seq, m);
    }
    const display = [];
    while (this.ahead.has(this.last + 1)) {
      const m = this.ahead.get(this.last + 1);
      this.ahead.delete(this.last + 1);
      display.push(m);
      this.last = m.seq;
    }
    return { display, known };
  }

  // A page read from just above seq `after` (a history `after: N` page, or a resume
  // welcome's replay from `since: N`) starts at the first message that exists above N:
  // when that is above last + 1, the seqs between were purged (docs/search.md
  // "Retention") and never come. Move `last` up to just below the page's first seq, so
  // take() goes on from there instead of waiting for them. Call it before take(). Only
  // a page from at or below `last` proves anything (one from higher up says nothing about
  // the seqs under it); an empty page proves nothing either. Returns how many seqs were
  // skipped.
  skipPurged(after, messages) {
    if (!Number.isSafeInteger(after) || after < 0 || after > this.last) return 0;
    let first = Infinity;
    for (const m of messages || []) {
      if (m && typeof m.seq === "number" && m.seq > after && m.seq < first) first = m.seq;
    }
    if (first === Infinity || first <= this.last + 1) return 0;
    const skipped = first - 1 - this.last;
    this.last = first - 1;
    // Nothing can be held below the first existing seq; drop any such stale entry, so
    // `gap` does not stay true for it.
    for (const seq of this.ahead.keys()) if (seq <= this.last) this.ahead.delete(seq);
    return skipped;
  }

  // Messages are held beyond a gap: fetch it with history `after: last`.
  get gap() {
    return this.ahead.size > 0;
  }
}
