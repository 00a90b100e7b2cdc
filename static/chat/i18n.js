// The scripts' translations: Django's JavaScriptCatalog (loaded before the modules as
// /jsi18n/) defines gettext, ngettext and interpolate on window; without it (node tests,
// a failed load) the English source strings are used.

const g = typeof globalThis !== "undefined" ? globalThis : {};

export function gettext(text) {
  return typeof g.gettext === "function" ? g.gettext(text) : text;
}

export function ngettext(singular, plural, count) {
  if (typeof g.ngettext === "function") return g.ngettext(singular, plural, count);
  return count === 1 ? singular : plural;
}

// "%(name)s is muted." with {name: "bob"}: named placeholders, as Django's interpolate.
export function format(text, values) {
  return String(text).replace(/%\((\w+)\)s/g, (all, key) => (key in values ? String(values[key]) : all));
}

// The page's language (<html lang>), for Intl formatters.
export function locale() {
  const lang = g.document && g.document.documentElement && g.document.documentElement.lang;
  return lang || undefined;
}
