// Search on every page of a logged-in user (docs/search.md): the header's box (base.html;
// on a room page its "This room" box adds room=<slug>) and the search page's form
// (chat/search.html), whose hits show their times in the reader's language and zone.
// "/" outside a field focuses the box (the search page's own field there, where the
// header has none); Escape in the empty box goes back to the composer on a room page.
// Everything else is a plain GET form: the server answers /search/?q=...

const box = document.getElementById("header-search-input");
const pageField = document.querySelector("[data-search-input]");
const field = box || pageField;

function typing(target) {
  return Boolean(target && target.closest && target.closest("input, textarea, select, [contenteditable]"));
}

document.addEventListener("keydown", function (event) {
  if (!field || event.defaultPrevented || event.key !== "/") return;
  if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  if (typing(event.target) || document.querySelector("dialog[open]")) return;
  event.preventDefault();
  field.focus();
  field.select();
});

if (box) {
  box.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.isComposing || box.value) return; // a value: Escape clears it first
    const composer = document.getElementById("composer-input");
    if (composer && !composer.disabled) {
      event.preventDefault();
      composer.focus();
    } else box.blur();
  });
  // An empty box opens the search page itself (its form, its filters).
  box.form.addEventListener("submit", function (event) {
    if (box.value.trim()) return;
    event.preventDefault();
    location.href = box.form.action;
  });
}

// The search page's room filter: when the room asked for is one of the listed rooms, the
// extra option the server put first for it (the value as typed) is a duplicate.
const roomSelect = document.getElementById("search-room-select");
if (roomSelect) {
  const extra = roomSelect.querySelector("option[data-asked]");
  const listed = extra && Array.from(roomSelect.options).some((o) => o !== extra && o.value === extra.value);
  if (listed) {
    const value = extra.value;
    extra.remove();
    roomSelect.value = value;
  }
}

// The hits' times in the reader's language and time zone (the server writes its own).
const hitTimes = document.querySelectorAll(".search-hit time[datetime]");
if (hitTimes.length) {
  const lang = document.documentElement.lang || undefined;
  const short = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  const full = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "medium" });
  for (const time of hitTimes) {
    const date = new Date(time.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) continue;
    time.textContent = short.format(date);
    time.title = full.format(date);
  }
}
