// The room page's controls for people (docs/protocol.md "Private rooms and direct
// conversations (version 2)"):
// - a username (a message's author, a member panel entry) opens that person's card:
//   "Message bob" sends `open_dm` on the room socket (the home socket when it is down)
//   and goes to the conversation its `ok` names; a moderator of a private room also gets
//   "Remove from room" (a confirm dialog, then `remove`);
// - "Invite people" (the owner and moderators of a private room, not a direct
//   conversation): `invite` by username, and an invitation link (`create_invitation` for
//   1, 7 or 30 days; the full address to copy, its expiry; `revoke_invitation`);
// - "Leave room" (every member of a private room, not a direct conversation): a confirm
//   dialog, then `leave`; its `ok` or the 4403 close that answers it goes to the room list,
//   which says "You left ...".
// Questions are asked in moderation.js's in-page dialog (window.chat.ask), results said in
// its toast (window.chat.say); refusals in the page's language (errors.js). The server
// decides everything again: these only choose which controls to show.
import { format, gettext, locale } from "./i18n.js";
import { avatar } from "./ui.js";
import { errorText } from "./errors.js";
import { INVITATION_HOURS, cleanUsername, expiryText, invitationLink } from "./rooms.js";
import { sendHome } from "./sidebar.js";

const chat = window.chat;
const LOCALE = locale();

function config() {
  return (chat && chat.config) || {};
}

function room() {
  return config().room || {};
}

function me() {
  return config().username || "";
}

let moderator = Boolean(config().is_moderator);

// The owner and moderators of a private room that is not a direct conversation.
function mayManage() {
  return moderator && Boolean(room().private) && !room().dm;
}

function isMember(name) {
  return Boolean(chat && chat.members && chat.members.isMember(name));
}

function say(text) {
  if (chat && chat.say) chat.say(text);
}

function ask(options) {
  return chat && chat.ask ? chat.ask(options) : Promise.resolve(null);
}

function send(frame) {
  return Boolean(chat && chat.send(frame));
}

function roomUrl(slug) {
  return "/chat/" + encodeURIComponent(slug) + "/";
}

function roomListUrl() {
  return document.querySelector(".brand").href;
}

// These commands' refusals are said here, with the name they were about, not in chat.js's
// banner (invite and the link's: in the dialog, while it is open).
for (const command of ["remove", "leave", "open_dm"]) if (chat) chat.claim(command, true);

// --- "Message bob" -------------------------------------------------------------------------

let dmAsked = null; // the name of the open_dm on its way

function openDm(name) {
  if (dmAsked !== null) return;
  const frame = { type: "open_dm", user: name };
  if (!send(frame) && !sendHome(frame)) {
    say(gettext("You are not connected right now. Try again in a moment."));
    return;
  }
  dmAsked = name;
}

function dmAnswered(frame) {
  if (dmAsked === null) return;
  if (frame.type === "ok" && frame.command === "open_dm" && typeof frame.room === "string") {
    dmAsked = null;
    location.href = roomUrl(frame.room);
  } else if (frame.type === "error" && frame.command === "open_dm") {
    say(errorText(frame, { user: dmAsked, locale: LOCALE }));
    dmAsked = null;
  }
}

// --- the person's card ------------------------------------------------------------------

const card = document.createElement("div");
card.id = "user-card";
card.className = "user-card";
card.setAttribute("popover", "auto");
card.setAttribute("role", "dialog");
card.setAttribute("aria-labelledby", "user-card-name");
document.body.append(card);

let cardFor = null; // {name, opener} while open
let closedAt = { name: null, time: 0 };

function cardButton(label, action, onClick, danger) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = danger ? "secondary danger-outline" : "primary";
  b.dataset.action = action;
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

function fillCard(name) {
  const face = avatar(name);
  const title = document.createElement("h2");
  title.id = "user-card-name";
  title.textContent = name;
  const status = document.createElement("p");
  status.className = "user-card-status";
  const online = chat && chat.members && chat.members.isOnline(name);
  status.textContent = online ? gettext("In this room now") : isMember(name) ? gettext("Offline") : "";
  const head = document.createElement("div");
  head.className = "user-card-head";
  const words = document.createElement("div");
  words.append(title, status);
  head.append(face, words);
  const actions = document.createElement("div");
  actions.className = "user-card-actions";
  const here = room().dm && config().dm_with === name; // this is the conversation with them
  if (!here && name !== me()) {
    actions.append(cardButton(format(gettext("Message %(user)s"), { user: name }), "message", function () {
      card.hidePopover();
      openDm(name);
    }));
  }
  if (moderator && name !== me() && !room().dm) {
    // The mute's own button is on each of their messages; lifting it is here (moderation.js
    // says how it went: "bob can post again.", or who alone may lift it).
    actions.append(cardButton(gettext("Lift mute"), "unmute", function () {
      card.hidePopover();
      if (!(chat && chat.send({ type: "unmute", user: name }))) {
        say(gettext("You are not connected right now. Try again in a moment."));
      }
    }, true));
  }
  if (mayManage() && isMember(name) && name !== me()) {
    actions.append(cardButton(gettext("Remove from room"), "remove", function () {
      card.hidePopover();
      confirmRemove(name);
    }, true));
  }
  card.replaceChildren(head);
  if (actions.childElementCount) card.append(actions);
}

function place(opener) {
  const box = opener.getBoundingClientRect();
  const width = card.offsetWidth;
  const height = card.offsetHeight;
  const left = Math.max(8, Math.min(box.left, window.innerWidth - width - 8));
  let top = box.bottom + 6;
  if (top + height > window.innerHeight - 8) top = Math.max(8, box.top - height - 6);
  card.style.left = left + "px"; // CSSOM, allowed by style-src 'self'
  card.style.top = top + "px";
}

function openCard(name, opener) {
  // A click on the name of the card just closed (by that same click) only closes it.
  if (closedAt.name === name && Date.now() - closedAt.time < 400) return;
  if (cardFor) card.hidePopover();
  fillCard(name);
  cardFor = { name: name, opener: opener };
  opener.setAttribute("aria-expanded", "true");
  card.showPopover();
  place(opener);
  const first = card.querySelector("button");
  if (first) first.focus();
  else {
    card.tabIndex = -1;
    card.focus();
  }
}

// beforetoggle comes at once (a light dismiss by a click on the same name is then known
// when that click arrives); toggle a task later.
card.addEventListener("beforetoggle", function (event) {
  if (event.newState === "closed" && cardFor) closedAt = { name: cardFor.name, time: Date.now() };
});

card.addEventListener("toggle", function (event) {
  if (event.newState !== "closed" || !cardFor) return;
  const { opener } = cardFor;
  cardFor = null;
  if (!opener.isConnected) return;
  opener.setAttribute("aria-expanded", "false");
  // Back where the user was, unless they went on to something else (a dialog, a link).
  const active = document.activeElement;
  if (!active || active === document.body || card.contains(active)) opener.focus();
});

document.addEventListener("click", function (event) {
  const opener = event.target.closest && event.target.closest("[data-user-menu]");
  if (!opener) return;
  const name = opener.dataset.userMenu;
  if (!name || name === me()) return;
  event.preventDefault();
  // The avatar is a mouse's target only: its name button is what the card goes back to.
  const button = opener.tagName === "BUTTON" ? opener : opener.closest("li.msg")?.querySelector("button.msg-user") || opener;
  openCard(name, button);
});

// --- remove, leave ----------------------------------------------------------------------

let removing = null;

function confirmRemove(name) {
  ask({
    title: format(gettext("Remove %(user)s from this room?"), { user: name }),
    text: gettext("They lose access at once: the room leaves their list, and they need a new invitation to come back."),
    confirm: gettext("Remove from room"),
    danger: true,
  }).then(function (yes) {
    if (!yes) return;
    if (send({ type: "remove", user: name })) removing = name;
    else say(gettext("You are not connected right now. Try again in a moment."));
  });
}

const leaveFoot = document.getElementById("member-panel-foot");
const leaveButton = document.getElementById("leave-room");
let leaving = false;

if (leaveButton) {
  leaveButton.addEventListener("click", function () {
    const title = room().title || "";
    ask({
      title: format(gettext("Leave %(room)s?"), { room: title }),
      text: gettext("It leaves your room list at once. To come back, you need a new invitation."),
      confirm: gettext("Leave room"),
      danger: true,
    }).then(function (yes) {
      if (!yes) return;
      if (chat) chat.leaving(true);
      if (send({ type: "leave" })) leaving = true;
      else {
        if (chat) chat.leaving(false);
        say(gettext("You are not connected right now. Try again in a moment."));
      }
    });
  });
}

function left() {
  if (!leaving) return;
  leaving = false;
  try {
    sessionStorage.setItem("chat.flash", format(gettext("You left %(room)s."), { room: room().title || "" }));
  } catch (err) {
    /* storage disabled: the room list just does not say it */
  }
  location.href = roomListUrl();
}

document.addEventListener("chat:left", left);

// --- "Invite people" --------------------------------------------------------------------

const inviteOpen = document.getElementById("invite-open");
const dialog = document.getElementById("invite-dialog");
const el = {
  room: document.getElementById("invite-room"),
  form: document.getElementById("invite-form"),
  user: document.getElementById("invite-user"),
  status: document.getElementById("invite-status"),
  hours: document.getElementById("invite-hours"),
  create: document.getElementById("invite-create"),
  made: document.getElementById("invite-made"),
  url: document.getElementById("invite-url"),
  copy: document.getElementById("invite-copy"),
  expires: document.getElementById("invite-expires"),
  revoke: document.getElementById("invite-revoke"),
  linkStatus: document.getElementById("invite-link-status"),
  close: document.getElementById("invite-close"),
};
const DIALOG_COMMANDS = ["invite", "create_invitation", "revoke_invitation"];
let inviting = null; // the name of the invite on its way
let link = null; // {id, url, expires} of the link shown
let creating = false;
let revoking = false;

function status(node, text, bad) {
  node.textContent = text;
  node.classList.toggle("bad", Boolean(bad));
}

function showLink(made) {
  link = made;
  el.made.hidden = !made;
  if (!made) return;
  el.url.value = made.url;
  const when = expiryText(made.expires, LOCALE);
  el.expires.textContent = when ? format(gettext("Expires %(time)s."), { time: when }) : "";
}

if (dialog && inviteOpen) {
  // The choices' values are the server's hours (rooms.js INVITATION_HOURS).
  for (const option of el.hours.options) {
    if (!INVITATION_HOURS.includes(Number(option.value))) option.remove();
  }

  inviteOpen.addEventListener("click", function () {
    el.room.textContent = room().title || "";
    status(el.status, "");
    status(el.linkStatus, "");
    el.user.removeAttribute("aria-invalid");
    for (const command of DIALOG_COMMANDS) chat.claim(command, true);
    dialog.showModal();
    el.user.focus();
  });

  dialog.addEventListener("close", function () {
    for (const command of DIALOG_COMMANDS) chat.claim(command, false);
    inviteOpen.focus();
  });
  el.close.addEventListener("click", function () {
    dialog.close();
  });

  el.form.addEventListener("submit", function (event) {
    event.preventDefault();
    const name = cleanUsername(el.user.value);
    el.user.removeAttribute("aria-invalid");
    if (!name) {
      status(el.status, gettext("Type the username of the person to invite."), true);
      el.user.setAttribute("aria-invalid", "true");
      return;
    }
    if (isMember(name)) {
      status(el.status, format(gettext("%(user)s is a member already."), { user: name }), true);
      return;
    }
    if (!send({ type: "invite", user: name })) {
      status(el.status, gettext("You are not connected right now. Try again in a moment."), true);
      return;
    }
    inviting = name;
    status(el.status, format(gettext("Inviting %(user)s…"), { user: name }));
  });

  el.create.addEventListener("click", function () {
    if (creating) return;
    const hours = Number(el.hours.value) || 168;
    if (!send({ type: "create_invitation", hours: hours })) {
      status(el.linkStatus, gettext("You are not connected right now. Try again in a moment."), true);
      return;
    }
    creating = true;
    el.create.disabled = true;
    status(el.linkStatus, gettext("Creating a link…"));
  });

  el.copy.addEventListener("click", function () {
    const text = el.url.value;
    const copied = function () {
      status(el.linkStatus, gettext("Link copied."));
    };
    const fallback = function () {
      el.url.focus();
      el.url.select();
      let ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (err) {
        ok = false;
      }
      if (ok) copied();
      else status(el.linkStatus, gettext("The link is selected: copy it with Ctrl+C (⌘C on a Mac)."));
    };
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(text).then(copied, fallback);
    else fallback();
  });
  el.url.addEventListener("focus", function () {
    el.url.select();
  });

  el.revoke.addEventListener("click", function () {
    if (!link || revoking) return;
    if (!send({ type: "revoke_invitation", id: link.id })) {
      status(el.linkStatus, gettext("You are not connected right now. Try again in a moment."), true);
      return;
    }
    revoking = true;
  });
}

function dialogAnswered(frame) {
  const ok = frame.type === "ok";
  const bad = frame.type === "error";
  if (!ok && !bad) return;
  const words = errorText(frame, { user: inviting || undefined, member: inviting !== null && isMember(inviting), locale: LOCALE });
  switch (frame.command) {
    case "invite":
      if (inviting === null) return;
      if (ok) {
        status(el.status, format(gettext("%(user)s is a member now."), { user: frame.user || inviting }));
        el.user.value = "";
      } else {
        status(el.status, words, true);
        el.user.setAttribute("aria-invalid", "true");
      }
      inviting = null;
      if (dialog.open) el.user.focus();
      return;
    case "create_invitation":
      creating = false;
      el.create.disabled = false;
      if (ok) {
        const url = invitationLink(location.origin, frame.url);
        showLink({ id: frame.id, url: url, expires: frame.expires });
        status(el.linkStatus, gettext("A new link is ready to share."));
      } else status(el.linkStatus, words, true);
      return;
    case "revoke_invitation":
      if (!revoking) return;
      revoking = false;
      if (ok) {
        showLink(null);
        status(el.linkStatus, gettext("The link was revoked: it no longer works."));
        el.create.focus();
      } else status(el.linkStatus, words, true);
      return;
  }
}

// --- which controls show ----------------------------------------------------------------

function refresh() {
  if (inviteOpen) inviteOpen.hidden = !mayManage();
  if (dialog && dialog.open && !mayManage()) dialog.close();
  if (leaveFoot) leaveFoot.hidden = !(room().private && !room().dm);
}

document.addEventListener("chat:frame", function (event) {
  const frame = event.detail || {};
  switch (frame.type) {
    case "welcome":
      moderator = Boolean(frame.moderator);
      refresh();
      return;
    case "room_updated":
      refresh();
      return;
    case "standing": // made or unmade a moderator while the page is open
      if (frame.room === room().slug) {
        moderator = Boolean(frame.moderator);
        refresh();
      }
      return;
    case "ok":
    case "error":
      dmAnswered(frame);
      if (dialog && DIALOG_COMMANDS.includes(frame.command)) dialogAnswered(frame);
      if (frame.command === "remove" && removing !== null) {
        if (frame.type === "ok") say(format(gettext("%(user)s is no longer a member."), { user: removing }));
        else say(errorText(frame, { user: removing, locale: LOCALE }));
        removing = null;
      }
      if (frame.command === "leave") {
        if (frame.type === "ok") left();
        else {
          leaving = false;
          if (chat) chat.leaving(false);
          say(errorText(frame, { locale: LOCALE }));
        }
      }
      return;
  }
});

// The home socket answers an open_dm sent there (the room socket was down).
document.addEventListener("chat:home", function (event) {
  const frame = event.detail || {};
  if (frame.type === "ok" || frame.type === "error") dmAnswered(frame);
});

refresh();
