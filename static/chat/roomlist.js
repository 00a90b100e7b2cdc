// The room list page (templates/chat/index.html): its cards follow the user's stream, as
// the sidebar does. sidebar.js owns the home socket and passes each frame on as a
// chat:home event: a `hello` or `rooms` frame (the whole list, most recently active
// first) replaces the cards of this page (its slice of that list: page 2 shows rooms 51 to
// 100), so a room made by someone else appears and a deleted one goes without a reload;
// `unread` frames change the badges (unread.js's store). A card the server rendered keeps
// its "active 5 minutes ago"; a new one says only what a room summary tells. A private
// room's card has a lock; a direct conversation's the other side's name and avatar.
// "New message" opens a direct conversation: `open_dm` on the home socket, then its page.
import { format, gettext, ngettext } from "./i18n.js";
import { counts, showBadges } from "./unread.js";
import { errorText } from "./errors.js";
import { cleanUsername, roomIcon, roomLabel } from "./rooms.js";
import { sendHome } from "./sidebar.js";

const list = document.getElementById("room-cards");
const empty = document.getElementById("room-cards-empty");
const me = (document.querySelector(".whoami") || {}).textContent || "";

function roomUrl(slug) {
  return "/chat/" + encodeURIComponent(slug) + "/";
}

function span(className, text) {
  const node = document.createElement("span");
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function build(room) {
  const li = document.createElement("li");
  li.className = "room-card";
  li.dataset.room = room.slug;
  const a = document.createElement("a");
  a.href = roomUrl(room.slug);
  const main = span("room-main");
  main.append(span("room-title-text"), span("room-meta"));
  a.append(roomIcon(room, me), main, span("count"));
  li.append(a);
  return li;
}

function fill(li, room) {
  li.querySelector(".room-title-text").textContent = roomLabel(room, me);
  // Made private or public since the page was rendered: the icon follows.
  const icon = li.querySelector(".room-hash, .room-lock, .avatar");
  const kind = room.dm ? "avatar" : room.private ? "room-lock" : "room-hash";
  if (icon && !icon.classList.contains(kind)) icon.replaceWith(roomIcon(room, me));
  const lastSeq = Number(room.last_seq) || 0;
  const count = li.querySelector(".count");
  if (count.dataset.count !== String(lastSeq)) {
    count.dataset.count = String(lastSeq);
    count.textContent = format(ngettext("%(n)s message", "%(n)s messages", lastSeq), { n: lastSeq });
  }
  const meta = li.querySelector(".room-meta");
  if (!meta.querySelector("time")) {
    // No activity time in a summary: the address, and whether anything was said yet.
    meta.replaceChildren(span("slug", room.slug));
    if (!lastSeq) meta.append(" · " + gettext("no messages yet"));
  }
  showCardCounts(li);
}

function showCardCounts(li) {
  const a = li.querySelector("a");
  a.classList.toggle("has-unread", showBadges(a, counts.get(li.dataset.room), a.querySelector(".count")));
}

function render(rooms) {
  if (!Array.isArray(rooms)) return;
  const offset = Number(list.dataset.offset) || 0;
  const size = Number(list.dataset.pageSize) || 50;
  const valid = rooms.filter((r) => r && typeof r.slug === "string");
  // A page past the rooms a frame carries (it lists the most recent ones) stays as it was.
  if (offset > 0 && offset >= valid.length) return;
  const have = new Map(Array.from(list.querySelectorAll("li.room-card"), (li) => [li.dataset.room, li]));
  const cards = valid.slice(offset, offset + size).map(function (room) {
    const li = have.get(room.slug) || build(room);
    fill(li, room);
    return li;
  });
  list.replaceChildren(...cards);
  list.hidden = cards.length === 0;
  if (empty) empty.hidden = cards.length > 0;
  list.dataset.live = "true";
}

if (list) {
  document.addEventListener("chat:home", function (event) {
    const frame = event.detail || {};
    if (frame.type === "hello" || frame.type === "rooms") render(frame.rooms);
  });
  counts.subscribe(function (slug) {
    if (slug === null) return; // a whole list: render() follows
    const li = list.querySelector('li.room-card[data-room="' + CSS.escape(slug) + '"]');
    if (li) showCardCounts(li);
  });
}

// --- "New message": a direct conversation with someone, from the room list -------------

const dmForm = document.getElementById("new-dm");

if (dmForm) {
  const input = document.getElementById("new-dm-user");
  const status = document.getElementById("new-dm-status");
  const button = dmForm.querySelector("button[type=submit]");
  let asked = null; // the name of the open_dm on its way

  function say(text, bad) {
    status.textContent = text;
    status.classList.toggle("bad", Boolean(bad));
    input.setAttribute("aria-invalid", bad ? "true" : "false");
  }

  dmForm.hidden = false;
  dmForm.addEventListener("submit", function (event) {
    event.preventDefault();
    const user = cleanUsername(input.value);
    if (!user) {
      say(gettext("Type the username of the person to write to."), true);
      input.focus();
      return;
    }
    if (user === me) {
      say(gettext("That is you: type someone else's username."), true);
      input.focus();
      return;
    }
    if (!sendHome({ type: "open_dm", user: user })) {
      say(gettext("You are not connected right now. Try again in a moment."), true);
      return;
    }
    asked = user;
    button.disabled = true;
    say(gettext("Opening the conversation…"));
  });

  document.addEventListener("chat:home", function (event) {
    const frame = event.detail || {};
    if (asked === null) return;
    if (frame.type === "ok" && frame.command === "open_dm" && typeof frame.room === "string") {
      asked = null;
      location.href = roomUrl(frame.room);
    } else if (frame.type === "error" && frame.command === "open_dm") {
      say(errorText(frame, { user: asked }), true);
      asked = null;
      button.disabled = false;
      input.focus();
    }
  });
}
