// The sidebar: the user's rooms and direct conversations, live from the home socket
// (docs/protocol.md "The home socket and the user's stream"): its `hello` lists the rooms,
// later `rooms` frames replace the list. The server renders a first list into the page;
// this keeps it current. On phones the sidebar is a drawer (the header's menu button).
// It never touches the room socket or #conn-state (chat.js owns those), but takes the
// user-stream frames that socket also carries (`rooms`, `unread`: chat.js passes every
// frame on as a chat:frame event), so the list stays live while either socket is up.
// Each room's counts go into unread.js's store; every room but the one on screen shows
// its unread and mention badges (server-rendered first, then live).
// Direct conversations (`dm: true`) are listed apart, by the other side's name (`with`)
// with their avatar; a private room has a lock. Each whole list is passed on as a
// chat:roomlist event (chat.js tells a removal from a network failure by it). A
// `notification` (kind dm, or mention: someone @mentioned the user) while the tab is
// hidden becomes a browser notification, once the user turned them on with the footer's
// button (never asked on page load; notify.js).
// `sendHome` lets the room list page send `open_dm` on this socket.
import { CLOSE, backoffDelay, readFrame } from "./delivery.js";
import { configureTitle, counts, seedFrom, showBadges } from "./unread.js";
import { colourAvatars, roomIcon, roomLabel } from "./rooms.js";
import { notify as notifyUser, setUpControl } from "./notify.js";

const nav = document.getElementById("sidebar");
const list = document.getElementById("room-list");
const dmList = document.getElementById("dm-list");
const toggle = document.getElementById("sidebar-toggle");
const current = document.body.dataset.room || "";
const me = (document.querySelector(".whoami") || {}).textContent || "";

const PING_EVERY_MS = 25000;

function roomUrl(slug) {
  return "/chat/" + encodeURIComponent(slug) + "/";
}

function item(room) {
  const li = document.createElement("li");
  li.dataset.room = room.slug;
  const a = document.createElement("a");
  a.href = roomUrl(room.slug);
  a.className = "room-link";
  if (room.slug === current) a.setAttribute("aria-current", "page");
  const name = document.createElement("span");
  name.className = "room-name";
  name.textContent = roomLabel(room, me);
  a.append(roomIcon(room, me), name);
  li.append(a);
  showCounts(li);
  return li;
}

// The room's badges from the store (none for the room on screen).
function showCounts(li) {
  const a = li.querySelector("a.room-link");
  if (!a) return;
  const c = li.dataset.room === current ? null : counts.get(li.dataset.room);
  a.classList.toggle("has-unread", showBadges(a, c));
}

function itemOf(slug) {
  for (const li of nav.querySelectorAll("li[data-room]")) if (li.dataset.room === slug) return li;
  return null;
}

// Each room's name as the list shows it (a mention's notification names the room).
const names = new Map();

export function render(rooms) {
  if (!list || !Array.isArray(rooms)) return;
  names.clear();
  for (const r of rooms) if (r && typeof r.slug === "string") names.set(r.slug, roomLabel(r, me));
  const ordinary = rooms.filter((r) => r && typeof r.slug === "string" && !r.dm);
  const direct = rooms.filter((r) => r && typeof r.slug === "string" && r.dm);
  list.replaceChildren(...ordinary.map(item));
  if (dmList) {
    dmList.replaceChildren(...direct.map(item));
    const empty = document.getElementById("dm-empty");
    if (empty) empty.hidden = direct.length > 0;
  }
  nav.dataset.live = "true";
}

// A frame of the user's stream, from the home socket or the room socket.
function take(frame) {
  if (frame.type === "hello" || frame.type === "rooms") {
    counts.replace(frame.rooms);
    render(frame.rooms);
    document.dispatchEvent(new CustomEvent("chat:roomlist", { detail: { rooms: frame.rooms } }));
  } else if (frame.type === "unread") {
    counts.set(frame.room, frame);
  } else if (frame.type === "notification") {
    notify(frame);
  }
}

counts.subscribe(function (slug) {
  if (slug === null) return; // a whole list: render() follows
  const li = itemOf(slug);
  if (li) showCounts(li);
});

document.addEventListener("chat:frame", function (event) {
  const frame = event.detail || {};
  if (frame.type === "rooms" || frame.type === "unread") take(frame);
});

// --- the home socket ---------------------------------------------------------------------

let attempt = 0;
let ws = null;
let pingTimer = null;
let stopped = false;

function connect() {
  if (stopped || !navigator.onLine) return;
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  let socket;
  try {
    socket = new WebSocket(scheme + location.host + "/ws/chat/");
  } catch (err) {
    return retry();
  }
  ws = socket;
  socket.onmessage = function (event) {
    if (ws !== socket) return;
    const frame = readFrame(event.data);
    if (!frame) return;
    if (frame.type === "hello") attempt = 0;
    take(frame);
    document.dispatchEvent(new CustomEvent("chat:home", { detail: frame }));
  };
  socket.onopen = function () {
    clearInterval(pingTimer);
    pingTimer = setInterval(function () {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
    }, PING_EVERY_MS);
  };
  socket.onclose = function (event) {
    clearInterval(pingTimer);
    if (ws !== socket) return;
    ws = null;
    if (event.code === CLOSE.REMOVED) {
      stopped = true; // logged out: the room page says so
      return;
    }
    retry();
  };
}

// Send a frame on the home socket (the room list's "New message"): false when it is not
// open.
export function sendHome(frame) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(frame));
  return true;
}

function retry() {
  // The room socket's backoff, one step later: the sidebar can wait (from 1 s, not 0.5 s).
  setTimeout(connect, backoffDelay(attempt + 1));
  attempt++;
}

window.addEventListener("online", function () {
  if (!ws) connect();
});
window.addEventListener("offline", function () {
  if (ws) ws.close();
});

// --- the drawer (phones) ------------------------------------------------------------------

function setOpen(open) {
  document.body.classList.toggle("drawer-open", open);
  if (toggle) toggle.setAttribute("aria-expanded", open ? "true" : "false");
  if (open) {
    const link = nav.querySelector('a[aria-current="page"]') || nav.querySelector("a");
    if (link) link.focus();
  }
}

if (toggle && nav) {
  toggle.addEventListener("click", function () {
    setOpen(!document.body.classList.contains("drawer-open"));
  });
  document.getElementById("drawer-scrim").addEventListener("click", function () {
    setOpen(false);
    toggle.focus();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && document.body.classList.contains("drawer-open")) {
      setOpen(false);
      toggle.focus();
    }
  });
}

// --- keyboard: Alt+Up/Down switches rooms, Ctrl+K focuses the room list ------------------

function rooms() {
  return Array.from(nav.querySelectorAll("a.room-link"));
}

document.addEventListener("keydown", function (event) {
  if (!nav) return;
  if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
    const links = rooms();
    if (!links.length) return;
    event.preventDefault();
    let index = links.findIndex((a) => a.getAttribute("aria-current") === "page");
    if (index < 0) index = event.key === "ArrowDown" ? -1 : 0;
    const next = links[(index + (event.key === "ArrowDown" ? 1 : -1) + links.length) % links.length];
    location.href = next.href;
  } else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k") {
    event.preventDefault();
    if (window.matchMedia("(max-width: 800px)").matches) setOpen(true);
    const links = rooms();
    const target = links.find((a) => a.getAttribute("aria-current") === "page") || links[0];
    if (target) target.focus();
  }
});

// --- notifications: direct messages and mentions ----------------------------------------

// Only the home socket's copy is shown (a room socket carries the same frame): one per
// message per tab, and the tag makes it one per message across tabs too (notify.js).
setUpControl({
  button: document.getElementById("notify-enable"),
  dismiss: document.getElementById("notify-dismiss"),
  note: document.getElementById("notify-note"),
});

function notify(frame) {
  notifyUser(frame, {
    roomName: (slug) => {
      const li = names.has(slug) ? null : itemOf(slug);
      const name = li && li.querySelector(".room-name");
      return names.get(slug) || (name && name.textContent) || slug;
    },
    open: (slug) => {
      if (slug !== current) location.href = roomUrl(slug);
    },
  });
}

// --- a message carried over from the last page ("You left Design Review") ---------------

const FLASH_KEY = "chat.flash";

function showFlash() {
  let text = null;
  try {
    text = sessionStorage.getItem(FLASH_KEY);
    sessionStorage.removeItem(FLASH_KEY);
  } catch (err) {
    return;
  }
  if (!text) return;
  const toast = document.createElement("div");
  toast.className = "notice page-toast";
  toast.setAttribute("role", "status");
  (document.getElementById("main") || document.body).prepend(toast);
  // Filled after it is in the page, so a screen reader announces it.
  setTimeout(function () {
    toast.textContent = text;
  }, 50);
  setTimeout(function () {
    toast.hidden = true;
  }, 8000);
}

if (nav) {
  colourAvatars(document); // the sidebar's, and the room list's cards
  showFlash();
  seedFrom("#sidebar li[data-room]"); // the counts the page was rendered with
  if (!current) configureTitle({ base: document.title }); // the room page's is chat.js's
  connect();
}
