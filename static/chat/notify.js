// Browser notifications (docs/protocol.md "Private rooms" and "Rich messages"): a
// `notification` frame (kind `dm`: a direct message; kind `mention`: someone @mentioned
// the user) becomes a desktop notification only while the tab is hidden, and only once
// the user turned them on. The permission is asked politely: never on page load, only
// from the sidebar's "Turn on notifications" (which also has a "Not now" that hides it
// for good); either answer is remembered in localStorage. Each notification is tagged
// `<kind>:<room>:<seq>`, so several tabs show one. `notificationText` is pure
// (`node --test tests/js/`).
import { format, gettext } from "./i18n.js";
import { excerpt } from "./replies.js";

export const ASKED_KEY = "chat.notifications.asked";
export const KINDS = new Set(["dm", "mention"]);

// {title, body, tag} for a notification frame, or null when it is not one to show.
// `roomName(slug)` gives the room's name as the user's list shows it.
export function notificationText(frame, roomName = (slug) => slug) {
  if (!frame || !KINDS.has(frame.kind) || !frame.message || typeof frame.room !== "string") return null;
  const m = frame.message;
  const user = String(m.user || "");
  const body = excerpt(m.body, 200);
  const tag = frame.kind + ":" + frame.room + ":" + m.seq;
  if (frame.kind === "dm") return { title: user, body: body, tag: tag };
  const title = format(gettext("%(user)s mentioned you in %(room)s"), { user: user, room: roomName(frame.room) || frame.room });
  return { title: title, body: body, tag: tag };
}

export function supported() {
  return typeof window !== "undefined" && typeof window.Notification === "function";
}

function asked() {
  try {
    return localStorage.getItem(ASKED_KEY) === "1";
  } catch (err) {
    return false;
  }
}

function remember() {
  try {
    localStorage.setItem(ASKED_KEY, "1");
  } catch (err) {
    /* storage disabled: the browser remembers its own answer */
  }
}

// The sidebar's control: "Turn on notifications" and its "Not now", while the browser
// has not been asked and the user has not answered or dismissed it here before.
export function setUpControl({ button, dismiss, note }) {
  if (!button) return;
  const box = button.closest(".notify-control") || button;
  const show = function () {
    box.hidden = !supported() || Notification.permission !== "default" || asked();
  };
  button.addEventListener("click", function () {
    remember();
    const done = function (answer) {
      show();
      if (note) {
        note.textContent = answer === "granted"
          ? gettext("Notifications are on for direct messages and mentions while this tab is in the background.")
          : gettext("Notifications are off. Your browser's site settings can turn them on.");
      }
    };
    try {
      const asking = Notification.requestPermission(done);
      if (asking && typeof asking.then === "function") asking.then(done, () => done("denied"));
    } catch (err) {
      done("denied");
    }
  });
  if (dismiss) {
    dismiss.addEventListener("click", function () {
      remember();
      show();
      if (note) note.textContent = gettext("No notifications. Your browser's site settings can turn them on later.");
    });
  }
  show();
}

// Show `frame` as a desktop notification if the tab is hidden and they are on.
// `open(slug)` when it is clicked.
export function notify(frame, { roomName, open } = {}) {
  const text = notificationText(frame, roomName);
  if (!text) return null;
  if (document.visibilityState !== "hidden") return null; // on screen: the page shows it
  if (!supported() || Notification.permission !== "granted") return null;
  let note;
  try {
    note = new Notification(text.title, {
      body: text.body,
      tag: text.tag,
      lang: document.documentElement.lang || undefined,
    });
  } catch (err) {
    return null; // e.g. a platform that only notifies through a service worker
  }
  note.onclick = function () {
    window.focus();
    note.close();
    if (open) open(frame.room);
  };
  return note;
}
