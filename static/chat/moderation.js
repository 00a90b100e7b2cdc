"use strict";
// Moderation controls on the room page (docs/moderation.md). chat.js renders the messages;
// this adds buttons to each message's .msg-actions (a small menu shown on hover or when the
// message has focus; its buttons are out of the Tab sequence until then, see keys.js):
// "Report" for everyone, "Delete" for the author and moderators, "Mute" and "Ban" for
// moderators, plus lock / slow mode for the room and the header's "Edit topic" (the line
// under the room's title, `room_settings` `topic`), and for the owner "Make private" /
// "Make public" (`room_settings` `private`; never for a direct conversation). Questions are asked in an in-page
// <dialog>, never prompt()/confirm(). Each action sends one protocol command through
// window.chat.send; the server answers with `ok` (said here in a toast) or an `error`
// naming the command (chat.js says it in the page's language, errors.js). Deletions arrive
// as `message_deleted`. The dialog and the toast are window.chat.ask and window.chat.say
// for people.js too (one look for every question the room page asks).
(function () {
  // Django's JavaScriptCatalog (/jsi18n/, loaded before this script) or English.
  function gettext(text) {
    return typeof window.gettext === "function" ? window.gettext(text) : text;
  }
  function format(text, values) {
    return String(text).replace(/%\((\w+)\)s/g, function (all, key) {
      return key in values ? String(values[key]) : all;
    });
  }

  let moderator = false; // from the page's config, then from each welcome frame
  let toolbar = null;
  let toast = null;
  let toastTimer = null;

  function me() {
    return (window.chat && window.chat.username) || "";
  }

  function send(frame) {
    if (!window.chat || !window.chat.send(frame)) say(gettext("You are not connected right now. Try again in a moment."));
  }

  function say(text) {
    if (!toast) {
      toast = document.createElement("div");
      toast.className = "notice mod-toast";
      toast.setAttribute("role", "status");
      const room = document.getElementById("room");
      if (room) room.prepend(toast);
      else document.body.prepend(toast);
    }
    toast.textContent = text;
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () {
      toast.hidden = true;
    }, 5000);
  }

  // --- the dialog ----------------------------------------------------------------------

  // ask({title, text, field: {label, type, value, required, min}, confirm, danger})
  // -> Promise of the field's value (or true without a field), null when cancelled.
  let dialog = null;
  function ask(options) {
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.className = "dialog";
      dialog.id = "mod-dialog";
      dialog.setAttribute("aria-labelledby", "mod-dialog-title");
      document.body.append(dialog);
    }
    const opener = document.activeElement;
    dialog.replaceChildren();
    const form = document.createElement("form");
    form.method = "dialog";
    const title = document.createElement("h2");
    title.id = "mod-dialog-title";
    title.textContent = options.title;
    form.append(title);
    if (options.text) {
      const p = document.createElement("p");
      p.textContent = options.text;
      form.append(p);
    }
    let input = null;
    if (options.field) {
      const label = document.createElement("label");
      label.htmlFor = "mod-dialog-input";
      label.textContent = options.field.label;
      input = document.createElement("input");
      input.id = "mod-dialog-input";
      input.type = options.field.type || "text";
      input.value = options.field.value || "";
      input.autocomplete = "off";
      if (options.field.required) input.required = true;
      if (options.field.min !== undefined) input.min = String(options.field.min);
      if (input.type === "text") input.maxLength = options.field.maxLength || 500;
      form.append(label, input);
    }
    const actions = document.createElement("div");
    actions.className = "dialog-actions";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "secondary";
    cancel.value = "cancel";
    cancel.textContent = gettext("Cancel");
    const ok = document.createElement("button");
    ok.type = "submit";
    ok.className = "primary" + (options.danger ? " danger" : "");
    ok.value = "ok";
    ok.dataset.role = "confirm";
    ok.textContent = options.confirm;
    actions.append(cancel, ok);
    form.append(actions);
    dialog.append(form);
    return new Promise(function (resolve) {
      let result = null;
      cancel.addEventListener("click", function () {
        dialog.close();
      });
      form.addEventListener("submit", function () {
        result = input ? input.value : true;
      });
      dialog.addEventListener("close", function done() {
        dialog.removeEventListener("close", done);
        if (opener && opener.isConnected) opener.focus();
        else if (window.chat) window.chat.focusComposer();
        resolve(result);
      });
      dialog.showModal();
      (input || ok).focus();
    });
  }

  function button(label, action, title, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "link-button mod-action";
    b.dataset.action = action;
    b.textContent = label;
    b.title = title;
    b.addEventListener("click", onClick);
    return b;
  }

  // --- per message ---------------------------------------------------------------------

  function decorate(li) {
    const box = li.querySelector(".msg-actions");
    if (!box) return;
    // Only this script's buttons: chat.js puts React, Reply and Edit in the same box.
    box.querySelectorAll(".mod-action").forEach(function (b) {
      b.remove();
    });
    const seq = Number(li.dataset.seq);
    const author = li.dataset.user || "";
    if (!seq || li.classList.contains("deleted")) return;
    const mine = author === me();
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", gettext("Message actions"));
    if (mine || moderator) {
      box.append(button(gettext("Delete"), "delete", gettext("Delete this message for everyone"), function () {
        ask({
          title: gettext("Delete this message?"),
          text: gettext("It is removed for everyone in the room. This cannot be undone."),
          confirm: gettext("Delete"),
          danger: true,
        }).then(function (yes) {
          if (yes) send({ type: "delete", seq: seq });
        });
      }));
    }
    if (moderator && !mine) {
      box.append(button(gettext("Mute"), "mute", format(gettext("Mute %(user)s in this room"), { user: author }), function () {
        ask({
          title: format(gettext("Mute %(user)s"), { user: author }),
          text: gettext("They can still read the room but cannot post."),
          field: { label: gettext("For how many minutes?"), type: "number", value: "10", min: 1, required: true },
          confirm: gettext("Mute"),
        }).then(function (minutes) {
          if (minutes === null) return;
          const n = parseInt(minutes, 10);
          if (!(n > 0)) return say(gettext("Give a number of minutes."));
          send({ type: "mute", user: author, minutes: n });
        });
      }));
      box.append(button(gettext("Ban"), "ban", format(gettext("Ban %(user)s from this room"), { user: author }), function () {
        ask({
          title: format(gettext("Ban %(user)s from this room?"), { user: author }),
          text: gettext("They are removed at once and cannot come back until unbanned."),
          field: { label: gettext("Reason (optional)"), type: "text" },
          confirm: gettext("Ban"),
          danger: true,
        }).then(function (reason) {
          if (reason === null) return;
          send({ type: "ban", user: author, reason: reason });
        });
      }));
    }
    if (!mine) {
      box.append(button(gettext("Report"), "report", gettext("Report this message to the moderators"), function () {
        ask({
          title: gettext("Report this message"),
          text: gettext("The moderators of this room will see it with your reason."),
          field: { label: gettext("Why do you report it?"), type: "text", required: true },
          confirm: gettext("Report"),
        }).then(function (reason) {
          if (reason === null) return;
          if (!reason.trim()) return say(gettext("Say why you report it."));
          send({ type: "report", seq: seq, reason: reason });
        });
      }));
    }
    box.querySelectorAll(".mod-action").forEach(function (b) {
      b.tabIndex = li.contains(document.activeElement) ? 0 : -1;
    });
  }

  function decorated() {
    document.dispatchEvent(new CustomEvent("chat:actions"));
  }

  function decorateAll() {
    document.querySelectorAll("#messages li.msg").forEach(decorate);
    decorated();
  }

  // --- the room --------------------------------------------------------------------------

  function mayChangePrivacy() {
    const config = (window.chat && window.chat.config) || {};
    return Boolean(config.may_set_private) && !currentRoom().dm;
  }

  let privacyAsked = false; // the next room_settings ok answers "Make private/public"

  function privacyButton(room) {
    const isPrivate = Boolean(room && room.private);
    return button(
      isPrivate ? gettext("Make public") : gettext("Make private"),
      "privacy",
      isPrivate ? gettext("Let everyone see and join this room") : gettext("Only members see this room"),
      function () {
        ask(isPrivate ? {
          title: gettext("Make this room public?"),
          text: gettext("Everyone who is logged in can then see it, read it and post in it. Its members stay."),
          confirm: gettext("Make public"),
        } : {
          title: gettext("Make this room private?"),
          text: gettext("Only its members can see it then: you and its moderators stay, everyone else in it now is closed out at once and needs an invitation to come back."),
          confirm: gettext("Make private"),
          danger: true,
        }).then(function (yes) {
          if (!yes) return;
          privacyAsked = true;
          send({ type: "room_settings", private: !isPrivate });
        });
      },
    );
  }

  function renderToolbar(room) {
    if (!moderator) {
      if (toolbar) toolbar.hidden = true;
      return;
    }
    if (!toolbar) {
      toolbar = document.createElement("div");
      toolbar.className = "mod-toolbar";
      toolbar.setAttribute("role", "group");
      toolbar.setAttribute("aria-label", gettext("Moderation"));
      const note = document.getElementById("room-note");
      if (note) note.after(toolbar);
      else document.body.prepend(toolbar);
    }
    toolbar.hidden = false;
    toolbar.replaceChildren();
    const locked = Boolean(room && room.locked);
    const slow = (room && room.slow_mode) || 0;
    toolbar.append(
      button(locked ? gettext("unlock room") : gettext("lock room"), "lock", gettext("Only moderators post in a locked room"), function () {
        send({ type: "room_settings", locked: !locked });
      }),
      button(slow ? format(gettext("slow mode: %(s)s s"), { s: slow }) : gettext("slow mode"), "slow_mode", gettext("Seconds between one user's messages"), function () {
        ask({
          title: gettext("Slow mode"),
          text: gettext("How long each person waits between two messages. 0 turns slow mode off."),
          field: { label: gettext("Seconds"), type: "number", value: String(slow || 10), min: 0, required: true },
          confirm: gettext("Save"),
        }).then(function (value) {
          if (value === null) return;
          const n = parseInt(value, 10);
          if (!(n >= 0)) return say(gettext("Give a number of seconds."));
          send({ type: "room_settings", slow_mode: n });
        });
      }),
    );
    if (mayChangePrivacy()) toolbar.append(privacyButton(room));
  }

  // The header's "Edit topic" (room.html), for moderators only.
  const TOPIC_MAX = 200; // chat/protocol.py TOPIC_MAX
  const topicButton = document.getElementById("topic-edit");

  function showTopicControl() {
    if (topicButton) topicButton.hidden = !moderator;
  }

  if (topicButton) {
    topicButton.addEventListener("click", function () {
      ask({
        title: gettext("Room topic"),
        text: gettext("One line under the room's name, for everyone in the room. Leave it empty to remove it."),
        field: { label: gettext("Topic"), type: "text", value: currentRoom().topic || "", maxLength: TOPIC_MAX },
        confirm: gettext("Save"),
      }).then(function (topic) {
        if (topic === null) return;
        send({ type: "room_settings", topic: topic.trim() });
      });
    });
  }

  function currentRoom() {
    return (window.chat && window.chat.config && window.chat.config.room) || {};
  }

  function setModerator(value) {
    if (value === moderator) return;
    moderator = value;
    decorateAll();
    renderToolbar(currentRoom());
    showTopicControl();
  }

  const DONE = {
    delete: function () { return gettext("Message deleted."); },
    report: function () { return gettext("Thanks: the moderators will look at it."); },
    mute: function (f) { return format(gettext("%(user)s is muted."), { user: f.user }); },
    unmute: function (f) { return format(gettext("%(user)s can post again."), { user: f.user }); },
    ban: function (f) { return format(gettext("%(user)s is banned from this room."), { user: f.user }); },
    unban: function (f) { return format(gettext("%(user)s is no longer banned."), { user: f.user }); },
    kick: function (f) { return format(gettext("%(user)s was removed from the room."), { user: f.user }); },
    room_settings: function (f) {
      if (privacyAsked) {
        privacyAsked = false;
        if (f.room && f.room.private) return gettext("This room is private now: only its members can see it.");
        if (f.room) return gettext("This room is public now: everyone can see it.");
      }
      return gettext("Room settings saved.");
    },
  };

  document.addEventListener("chat:rendered", function (event) {
    if (event.detail && event.detail.element) decorate(event.detail.element);
  });

  document.addEventListener("chat:frame", function (event) {
    const frame = event.detail || {};
    switch (frame.type) {
      case "welcome":
        setModerator(Boolean(frame.moderator));
        renderToolbar(frame.room);
        return;
      case "message_deleted": {
        const li = document.querySelector('#messages li.msg[data-seq="' + Number(frame.seq) + '"]');
        if (li) {
          decorate(li); // chat.js greyed it; its controls go
          decorated();
        }
        return;
      }
      case "room_updated":
        renderToolbar(frame.room);
        return;
      case "ok":
        if (DONE[frame.command]) say(DONE[frame.command](frame));
        return;
      case "error":
        if (frame.command === "room_settings") privacyAsked = false;
        return;
    }
  });

  // chat.js has set window.chat (and rendered nothing yet) when deferred scripts run.
  if (window.chat) {
    window.chat.ask = ask;
    window.chat.say = say;
  }
  if (window.chat && window.chat.isModerator) {
    moderator = true;
    renderToolbar(currentRoom());
    showTopicControl();
  }
})();
