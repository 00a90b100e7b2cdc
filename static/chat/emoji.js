// Reactions' emoji (docs/protocol.md "Rich messages"): the picker's common ones, and
// whether a text typed into its free field is exactly one emoji, as the server will
// check again (the `emoji` library): one grapheme cluster (Intl.Segmenter), which is
// an emoji: it has an Extended_Pictographic code point (ZWJ sequences, skin tones and
// the like are one cluster), is a flag (two regional indicators), or a keycap (a digit,
// # or *, U+FE0F, U+20E3). No DOM, so `node --test tests/js/` checks it.
import { gettext } from "./i18n.js";

// The picker's row, in this order; `name` is for screen readers (and the tooltip).
export const COMMON = Object.freeze([
  { emoji: "👍", name: () => gettext("thumbs up") },
  { emoji: "❤️", name: () => gettext("red heart") },
  { emoji: "😂", name: () => gettext("face with tears of joy") },
  { emoji: "🎉", name: () => gettext("party popper") },
  { emoji: "😮", name: () => gettext("face with open mouth") },
  { emoji: "😢", name: () => gettext("crying face") },
  { emoji: "👀", name: () => gettext("eyes") },
  { emoji: "✅", name: () => gettext("check mark button") },
]);

const PICTOGRAPHIC = /\p{Extended_Pictographic}/u;
const FLAG = /^\p{Regional_Indicator}{2}$/u;
const KEYCAP = /^[0-9#*]\uFE0F?\u20E3$/u;

// The text's grapheme clusters (user-perceived characters).
export function graphemes(text) {
  const value = String(text == null ? "" : text);
  if (typeof Intl !== "undefined" && typeof Intl.Segmenter === "function") {
    const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
    return Array.from(segmenter.segment(value), (s) => s.segment);
  }
  return Array.from(value); // no Segmenter: code points (the server decides anyway)
}

// The one emoji in `text` (white space around it trimmed), or null when it is not
// exactly one emoji.
export function oneEmoji(text) {
  const value = String(text == null ? "" : text).trim();
  if (!value) return null;
  const parts = graphemes(value);
  if (parts.length !== 1) return null;
  const cluster = parts[0];
  if (KEYCAP.test(cluster) || FLAG.test(cluster)) return cluster;
  if (PICTOGRAPHIC.test(cluster)) return cluster;
  return null;
}

export function isEmoji(text) {
  return oneEmoji(text) !== null;
}
