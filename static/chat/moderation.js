"use strict";
// Moderation controls on the room page (docs/moderation.md). chat.js renders the messages;
// this adds buttons to each message's .msg-actions: "report" for everyone, "delete" for the
// author and moderators, "mute" and "ban" for moderators, plus lock / slow mode for the
// room. Each sends one protocol command through window.chat.send; the server answers with
// `ok` (shown here) or an `error` naming the command (chat.js shows its detail). Nothing
// here changes the page's messages itself: deletions arrive as `message_deleted` frames.
(function () {
  let moderator = false; // from the page's config, then from each welcome frame
  let toolbar = null;
  let toast = null;
  let toastTimer = null;

  function me() {
    return (window.chat && window.chat.username) || "";
  }

  function send(frame) {
    if (!window.chat || !window.chat.send(frame)) say("Not connected: try again in a moment.");
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
    box.replaceChildren();
    const seq = Number(li.dataset.seq);
    const author = li.dataset.user || "";
    if (!seq || li.classList.contains("deleted")) return;
    const mine = author === me();
    if (mine || moderator) {
      box.append(button("delete", "delete", "Delete this message for everyone", function () {
        if (window.confirm("Delete this message for everyone?")) send({ type: "delete", seq: seq });
      }));
    }
    if (moderator && !mine) {
      box.append(button("mute", "mute", "Mute " + author + " in this room", function () {
        const minutes = window.prompt("Mute " + author + " for how many minutes?", "10");
        if (minutes === null) return;
        const n = parseInt(minutes, 10);
        if (!(n > 0)) return say("Give a number of minutes.");
        send({ type: "mute", user: author, minutes: n });
      }));
      box.append(button("ban", "ban", "Ban " + author + " from this room", function () {
        const reason = window.prompt("Ban " + author + " from this room. Reason:", "");
        if (reason === null) return;
        send({ type: "ban", user: author, reason: reason });
      }));
    }
    if (!mine) {
      box.append(button("report", "report", "Report this message to the moderators", function () {
        const reason = window.prompt("Why do you report this message?", "");
        if (reason === null) return;
        if (!reason.trim()) return say("Say why you report it.");
        send({ type: "report", seq: seq, reason: reason });
      }));
    }
  }

  function decorateAll() {
    document.querySelectorAll("#messages li.msg").forEach(decorate);
  }

  // --- the room --------------------------------------------------------------------------

  function renderToolbar(room) {
    if (!moderator) {
      if (toolbar) toolbar.hidden = true;
      return;
    }
    if (!toolbar) {
      toolbar = document.createElement("div");
      toolbar.className = "mod-toolbar";
      toolbar.setAttribute("aria-label", "Moderation");
      toolbar.style.cssText = "display:flex;flex-wrap:wrap;gap:.75rem;padding:.25rem 1rem;font-size:.85rem";
      const note = document.getElementById("room-note");
      if (note) note.after(toolbar);
      else document.body.prepend(toolbar);
    }
    toolbar.hidden = false;
    toolbar.replaceChildren();
    const locked = Boolean(room && room.locked);
    const slow = (room && room.slow_mode) || 0;
    toolbar.append(
      button(locked ? "unlock room" : "lock room", "lock", "Only moderators post in a locked room", function () {
        send({ type: "room_settings", locked: !locked });
      }),
      button(slow ? "slow mode: " + slow + " s" : "slow mode", "slow_mode", "Seconds between one user's messages", function () {
        const value = window.prompt("Seconds between one user's messages (0 turns slow mode off):", String(slow || 10));
        if (value === null) return;
        const n = parseInt(value, 10);
        if (!(n >= 0)) return say("Give a number of seconds.");
        send({ type: "room_settings", slow_mode: n });
      }),
    );
  }

  function currentRoom() {
    return (window.chat && window.chat.config && window.chat.config.room) || {};
  }

  function setModerator(value) {
    if (value === moderator) return;
    moderator = value;
    decorateAll();
    renderToolbar(currentRoom());
  }

  const DONE = {
    delete: function (f) { return "Message " + f.seq + " deleted."; },
    report: function () { return "Thanks: the moderators will look at it."; },
    mute: function (f) { return f.user + " is muted."; },
    unmute: function (f) { return f.user + " may post again."; },
    ban: function (f) { return f.user + " is banned from this room."; },
    unban: function (f) { return f.user + " is no longer banned."; },
    kick: function (f) { return f.user + " was removed from the room."; },
    room_settings: function () { return "Room settings saved."; },
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
        if (li) decorate(li); // chat.js greyed it; its controls go
        return;
      }
      case "room_updated":
        renderToolbar(frame.room);
        return;
      case "ok":
        if (DONE[frame.command]) say(DONE[frame.command](frame));
        return;
    }
  });

  // chat.js has set window.chat (and rendered nothing yet) when deferred scripts run.
  if (window.chat && window.chat.isModerator) {
    moderator = true;
    renderToolbar(currentRoom());
  }
})();
