// The room page's client for the chat wire protocol (docs/protocol.md).
//
// What it promises: every message the server stored is shown once, in seq order, however the
// connection comes and goes. How:
// - The page holds one contiguous run of seqs [oldest..last] (delivery.js SeqOrder). Anything at or below `last` is a
//   duplicate; anything above last+1 waits in `ahead` while the gap is fetched with `history`
//   `after`. Reconnects resume with ?since=<last>.
// - Sent messages wait in an outbox (sessionStorage, per room) under a client_id until their
//   echo arrives; they are resent after every reconnect (the server stores a client_id once).
// - Reconnects back off exponentially with jitter; a ping every 15 s without a pong within 5 s
//   means the connection is dead even if the socket still looks open.
// Bodies: the server's sanitized `html` (richtext.js, through a second allowlist), else
// `body` with textContent; every other text from a message (names, excerpts) is text.
// Rich messages (docs/protocol.md "Rich messages"): edits in the composer (edits.js: the
// menu's "Edit", or Up in an empty composer; `message_edited` replaces a message in
// place), reactions (reactions.js: chips, the picker; `reactions` frames), replies
// (replies.js: the composer's reply bar, the quote that jumps to the original: when it
// is not loaded, the list is reset to a window around it, "detached" from the live end
// until the reader pages down to it or presses "Jump to latest"), @mentions (mentions.js:
// the composer's suggestions; a mention of this user is highlighted).
// Search (docs/search.md): a result opens the room with `?at=<seq>` (config.at): after
// the first welcome the page jumps there as a quote does, and marks the message.
// Retention: a gap whose `history` `after` page (or a resume welcome) starts above it
// was purged, and is skipped (delivery.js SeqOrder.skipPurged).
// The look of the list (groups, day separators, avatars) comes from ui.js; the words from
// i18n.js (Django's JavaScriptCatalog); the server's refusals in them from errors.js.
// Room life: who is here and who is typing from presence.js; what has been read, the
// "new messages" divider of a room opened with unread messages and the title's count from
// unread.js (the sidebar's badges are sidebar.js's).
// Private rooms and direct conversations (rooms.js): a direct conversation is shown by the
// other side's name, a private room's member panel lists every member, and a 4403 close
// after the room left this user's room list means "not a member any more", said once,
// never retried. people.js adds the controls (invite, remove, leave, "Message bob").
import { format, gettext, locale, ngettext } from "./i18n.js";
import { avatar, continuesGroup, counterState, dayKey, dayLabel } from "./ui.js";
import { CLOSE, FINAL_CODES, SeqOrder, backoffDelay, readFrame } from "./delivery.js";
import { ERROR, errorText, refusal } from "./errors.js";
import { MemberPanel, TypingLine, TypingSender } from "./presence.js";
import { Listing, roomIcon, roomLabel } from "./rooms.js";
import { mentionsMe, renderBody } from "./richtext.js";
import { Picker, REACTIONS_MAX, hasReacted, mayAdd, merged, renderChips, settle, PENDING_MS } from "./reactions.js";
import { ReplyBar, fillQuote, quoteElement } from "./replies.js";
import { EditBar, editable, editedTitle, lastEditable } from "./edits.js";
import { MentionBox } from "./mentions.js";
import {
  READ_DEBOUNCE_MS,
  ReadTracker,
  configureTitle,
  counts,
  firstUnread,
  refreshTitle,
  unreadAbove,
} from "./unread.js";

(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("chat-config").textContent);
  const initial = JSON.parse(document.getElementById("chat-initial").textContent);

  const HEALTHY_AFTER_MS = 10000; // a connection this old resets the backoff
  const PING_EVERY_MS = 15000;
  const PONG_WITHIN_MS = 5000;
  const WELCOME_WITHIN_MS = 10000; // a handshake that hangs longer is given up and retried
  const ACK_WITHIN_MS = 5000; // no echo of a sent message by then: send it again (idempotent)
  const PAGE = 50;
  const GAP_PAGE = 100;
  const STORAGE_KEY = "chat.outbox." + config.room.slug;

  const el = {
    title: document.getElementById("room-title"),
    state: document.getElementById("conn-state"),
    banner: document.getElementById("banner"),
    scroller: document.getElementById("scroller"),
    list: document.getElementById("messages"),
    outbox: document.getElementById("outbox"),
    olderButton: document.getElementById("load-older"),
    olderStart: document.getElementById("older-start"),
    form: document.getElementById("composer"),
    input: document.getElementById("composer-input"),
    send: document.getElementById("send"),
    roomNote: document.getElementById("room-note"),
    composerNote: document.getElementById("composer-note"),
    counter: document.getElementById("composer-counter"),
    jump: document.getElementById("jump-latest"),
    announce: document.getElementById("conn-announce"),
    topicLine: document.getElementById("room-topic-line"),
    topic: document.getElementById("room-topic"),
    typing: document.getElementById("typing-line"),
    icon: document.getElementById("room-icon"),
    replyBar: document.getElementById("reply-bar"),
    editBar: document.getElementById("edit-bar"),
    mentionList: document.getElementById("mention-list"),
    mentionStatus: document.getElementById("mention-status"),
  };

  // --- state -----------------------------------------------------------------------------

  const order = new SeqOrder(); // order.last: highest seq shown; all of [oldest, last] are
  let oldest = null; // lowest seq shown (null: none yet)
  let hasMoreBefore = initial.has_more;
  const shown = new Map(); // seq -> <li>
  let outbox = loadOutbox(); // [{client_id, body, status: "pending"|"failed", error}]

  let ws = null;
  let connId = 0; // increases with every socket, so stale callbacks can tell
  let welcomed = false;
  let finalState = null; // set when the server told us not to come back
  let attempt = 0;
  let retryTimer = null;
  let retryAt = 0;
  let countdownTimer = null;
  let healthyTimer = null;
  let pingTimer = null;
  let pongTimer = null;
  let welcomeTimer = null;
  // Outstanding history requests, in order: {kind: "before" | "after" | "newer" | "latest"
  // | "around" | "peek", gen: listGen when asked, seq: the message of a peek or a jump}.
  let requests = [];
  let gapAskedAt = -1; // `last` when the gap was last asked for: one request at a time
  let loadingOlder = false;
  // A window of older messages around a jump target (a reply's original not loaded):
  // `detached` while the list does not reach the room's live end; live messages are then
  // not shown (the database keeps them), only `liveLast` rises, and paging down (or "Jump
  // to latest") brings the list back to the live end. The list is always one contiguous
  // run of seqs [oldest..order.last], detached or not.
  let detached = false;
  let liveLast = 0;
  let loadingNewer = false;
  let jumpTarget = null; // the seq a window is being loaded for
  let listGen = 0; // rises each time the whole list is replaced
  let sinceSent = 0; // the `since` of the socket being opened (its welcome replays above it)

  // Room life: who is online (the header's count and the member panel), who is typing,
  // and what this user has read here (the server's marker, raised by what is on screen).
  const members = new MemberPanel({
    toggle: document.getElementById("members-toggle"),
    count: document.getElementById("online-count"),
    panel: document.getElementById("member-panel"),
    list: document.getElementById("member-list"),
    close: document.getElementById("member-panel-close"),
    scrim: document.getElementById("member-scrim"),
    me: config.username,
  });
  members.roster(config.room.private ? config.room.members : null);
  const typists = new TypingLine(el.typing);
  const typingSender = new TypingSender();
  const reads = new ReadTracker(config.last_read || 0);
  let readTimer = null;
  let firstWelcome = true;
  let openDivider = null; // the divider placed from the marker when the page opened

  // --- rendering -------------------------------------------------------------------------

  const LOCALE = locale();
  const timeFormat = new Intl.DateTimeFormat(LOCALE, { hour: "numeric", minute: "2-digit" });
  const fullFormat = new Intl.DateTimeFormat(LOCALE, { dateStyle: "full", timeStyle: "medium" });
  const DELETED = gettext("This message was deleted.");
  const data = new WeakMap(); // <li> -> the message it shows (for grouping)

  // Accounts flagged as bots (chat.models.Profile), badged beside their name.
  const bots = new Set(config.bots || []);

  function botBadge() {
    const badge = document.createElement("span");
    badge.className = "bot-badge";
    badge.textContent = gettext("bot");
    return badge;
  }

  function buildMessage(m) {
    const li = document.createElement("li");
    li.className = "msg";
    li.dataset.seq = String(m.seq);
    li.dataset.user = m.user;
    li.tabIndex = -1; // focusable by the list's arrow keys, not a Tab stop
    if (m.user === config.username) li.classList.add("mine");
    const head = document.createElement("div");
    head.className = "msg-head";
    // Someone else's name (and avatar) opens their card: "Message bob" (people.js).
    const other = m.user !== config.username;
    const user = document.createElement(other ? "button" : "span");
    user.className = "msg-user";
    user.textContent = m.user;
    if (other) {
      user.type = "button";
      user.tabIndex = -1; // in the Tab sequence only while its message has focus (keys.js)
      user.dataset.userMenu = m.user;
      user.setAttribute("aria-haspopup", "dialog");
    }
    const time = document.createElement("time");
    time.className = "msg-time";
    if (m.ts) {
      const date = new Date(m.ts);
      time.dateTime = m.ts;
      time.textContent = timeFormat.format(date);
      time.title = fullFormat.format(date);
    }
    const actions = document.createElement("span");
    actions.className = "msg-actions";
    head.append(user, " ");
    if (bots.has(m.user)) head.append(botBadge(), " ");
    head.append(time);
    const body = document.createElement("div");
    body.className = "msg-body";
    // Under the body: "(edited)" and the reactions' chips.
    const foot = document.createElement("div");
    foot.className = "msg-foot";
    const edited = document.createElement("span");
    edited.className = "msg-edited";
    edited.hidden = true;
    const chips = document.createElement("div");
    chips.className = "reactions";
    chips.setAttribute("role", "group");
    chips.setAttribute("aria-label", gettext("Reactions"));
    chips.setAttribute("aria-live", "off"); // the log announces new messages, not each reaction
    chips.hidden = true;
    foot.append(edited, chips);
    const face = avatar(m.user);
    if (other) face.dataset.userMenu = m.user; // a click target for the mouse; the name is the button
    li.append(face, head, body, foot, actions);
    data.set(li, m);
    fillMessage(li, m);
    return li;
  }

  // Groups (a burst by one author shows its name and avatar once) and day separators,
  // recomputed over the whole list after every change (cheap for a few thousand items).
  // Separators already in place stay, so the live region announces only what is new.
  function relayout() {
    const need = new Map(); // <li.msg> -> day key, for the first message of each day
    let prev = null;
    let prevKey = null;
    for (const li of el.list.querySelectorAll("li.msg")) {
      const m = data.get(li);
      if (!m) continue;
      const key = dayKey(m.ts);
      if (key && key !== prevKey) need.set(li, key);
      li.classList.toggle("cont", Boolean(prev) && key === prevKey && continuesGroup(prev, m));
      prev = m;
      prevKey = key;
    }
    for (const sep of Array.from(el.list.querySelectorAll("li.day"))) {
      const next = sep.nextElementSibling;
      if (!next || need.get(next) !== sep.dataset.day) sep.remove();
    }
    const now = new Date();
    const labels = { today: gettext("Today"), yesterday: gettext("Yesterday") };
    for (const [li, key] of need) {
      const before = li.previousElementSibling;
      if (before && before.classList.contains("day") && before.dataset.day === key) continue;
      const sep = document.createElement("li");
      sep.className = "day";
      sep.dataset.day = key;
      const label = document.createElement("span");
      label.textContent = dayLabel(tsOf(li), now, labels, LOCALE);
      sep.append(label);
      li.before(sep);
    }
  }

  function tsOf(li) {
    return data.get(li).ts;
  }

  // Show message `m` (a new one, or a newer view of a shown one: edited, deleted, its
  // reactions) in its <li>.
  function fillMessage(li, m) {
    const full = Object.assign({}, data.get(li), m);
    data.set(li, full);
    remember(full);
    if (full.deleted) return markDeleted(li);
    const body = li.querySelector(".msg-body");
    renderBody(body, full, config.username);
    const focused = li.contains(document.activeElement);
    for (const a of body.querySelectorAll("a[href]")) a.tabIndex = focused ? 0 : -1; // keys.js
    li.classList.toggle("mentions-me", mentionsMe(full, config.username));
    showEdited(li, full);
    showQuote(li, full);
    showReactions(li);
    refreshQuotes(full);
  }

  function markDeleted(li) {
    li.classList.add("deleted");
    li.classList.remove("mentions-me", "edited");
    const body = li.querySelector(".msg-body");
    body.classList.remove("rich");
    body.textContent = DELETED;
    const m = data.get(li);
    if (m) {
      m.deleted = true;
      m.body = "";
      m.html = "";
      m.reactions = [];
      remember(m);
      refreshQuotes(m);
    }
    const quote = li.querySelector(".reply-quote");
    if (quote) quote.remove();
    const edited = li.querySelector(".msg-edited");
    if (edited) edited.hidden = true;
    const chips = li.querySelector(".reactions");
    if (chips) {
      chips.replaceChildren();
      chips.hidden = true;
    }
    decorateRich(li);
    if (editBar.active && editBar.seq === Number(li.dataset.seq)) cancelEdit();
  }

  function showEdited(li, m) {
    const mark = li.querySelector(".msg-edited");
    li.classList.toggle("edited", Boolean(m.edited_ts));
    if (!mark) return;
    mark.hidden = !m.edited_ts;
    if (m.edited_ts) {
      mark.textContent = gettext("(edited)");
      mark.title = editedTitle(m.edited_ts, LOCALE);
    }
  }

  function rendered(li, m) {
    decorateRich(li);
    document.dispatchEvent(new CustomEvent("chat:rendered", { detail: { element: li, message: m } }));
  }

  // --- replies: the quote above a reply, the originals it quotes -------------------------

  // Every message seen (shown, or fetched for a quote), for quotes and the reply bar.
  const originals = new Map(); // seq -> message
  const peeking = new Set(); // seqs asked for with a one-message `history`

  function remember(m) {
    if (!m || typeof m.seq !== "number") return;
    originals.set(m.seq, Object.assign({}, originals.get(m.seq), m));
  }

  function originalOf(seq) {
    const li = shown.get(seq);
    return (li && data.get(li)) || originals.get(seq) || null;
  }

  function showQuote(li, m) {
    const target = Number(m.reply_to);
    let quote = li.querySelector(".reply-quote");
    if (!Number.isSafeInteger(target) || target <= 0) {
      if (quote) quote.remove();
      return;
    }
    const original = originalOf(target);
    if (!quote) {
      quote = quoteElement(target, original, jumpTo);
      li.querySelector(".msg-body").before(quote);
    } else fillQuote(quote, original);
    if (!original) peek(target);
  }

  // The quotes of message `m`'s replies, after it changed (or arrived).
  function refreshQuotes(m) {
    for (const quote of el.list.querySelectorAll('.reply-quote[data-reply-to="' + m.seq + '"]')) {
      fillQuote(quote, m);
    }
  }

  // A quoted message that is not loaded: fetch it alone (`history` after seq - 1).
  function peek(seq) {
    if (peeking.has(seq) || !welcomed) return;
    if (send({ type: "history", after: seq - 1, limit: 1 })) {
      peeking.add(seq);
      requests.push({ kind: "peek", seq: seq });
    }
  }

  function peekAnswered(request, messages) {
    peeking.delete(request.seq);
    for (const m of messages) {
      remember(m);
      refreshQuotes(originals.get(m.seq));
    }
  }

  // After a (re)connect: the quotes still waiting for their original ask again.
  function peekMissing() {
    for (const quote of el.list.querySelectorAll('.reply-quote[data-state="loading"]')) {
      peek(Number(quote.dataset.replyTo));
    }
  }

  function nearBottom() {
    const s = el.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  function scrollToBottom() {
    el.scroller.scrollTop = el.scroller.scrollHeight;
  }

  // Append messages above `last` strictly in seq order; park the rest until the gap is filled.
  // `live`: from the room's live end (a message frame, a welcome), which a detached list
  // does not show.
  function accept(messages, live) {
    if (detached && live) return divert(messages);
    const stick = nearBottom();
    let mine = false;
    let added = 0;
    for (const m of messages) settleOutbox(m);
    const { display, known } = order.take(messages);
    for (const m of known) {
      const li = shown.get(m.seq);
      if (li) fillMessage(li, m); // a newer view of a shown message (e.g. deleted)
    }
    for (const m of display) {
      const li = buildMessage(m);
      el.list.appendChild(li);
      shown.set(m.seq, li);
      if (oldest === null) oldest = m.seq;
      if (m.user === config.username) mine = true;
      else {
        typists.stop(m.user); // their message is here: they are no longer typing it
        if (started && !stick && !unreadFrom) {
          unreadFrom = li; // the first message the reader has not scrolled to
          markUnread(li);
        }
      }
      added++;
      rendered(li, m);
    }
    if (added) relayout();
    if (stick || mine) scrollToBottom();
    else if (added && started) {
      unseen += added;
      showJump();
    }
    showOlderControls();
    if (order.gap) askForGap();
    if (added || known.length) {
      reads.setLimit(order.last);
      checkReadSoon();
      refreshTitle();
    }
  }

  // Scrolled up when messages arrive: a "New messages" divider above the first of them
  // and a pill that jumps to the latest (both go once the reader is at the bottom).
  let unreadFrom = null;
  let unseen = 0;

  function markUnread(li) {
    el.list.querySelectorAll("li.msg.unread-first").forEach((x) => x.classList.remove("unread-first"));
    li.classList.add("unread-first");
    li.dataset.unreadLabel = gettext("New messages");
    openDivider = null;
  }

  function messagesShown() {
    return Array.from(el.list.querySelectorAll("li.msg"), (li) => data.get(li)).filter(Boolean);
  }

  // A room opened with unread messages: the divider above the first one by someone else
  // (above `lastRead`, the server's marker), which stays where it is as the reader reads.
  function placeOpenDivider(lastRead) {
    if (openDivider) {
      openDivider.classList.remove("unread-first");
      if (unreadFrom === openDivider) unreadFrom = null;
      openDivider = null;
    }
    const seq = firstUnread(messagesShown(), lastRead, config.username);
    const li = seq === null ? null : shown.get(seq);
    if (!li) return null;
    markUnread(li);
    unreadFrom = li;
    openDivider = li;
    openDivider.dataset.mark = String(lastRead);
    return li;
  }

  function scrollToDivider(li) {
    const offset = li.getBoundingClientRect().top - el.scroller.getBoundingClientRect().top;
    el.scroller.scrollTop += offset - 40; // the label sits above the message
  }

  function showJump() {
    el.jump.hidden = false;
    el.jump.textContent = detached
      ? gettext("Jump to latest")
      : format(ngettext("%(n)s new message", "%(n)s new messages", unseen), { n: unseen });
  }

  function seenAll() {
    unseen = 0;
    if (!detached) el.jump.hidden = true;
  }

  // Older messages (a `history` `before` page) go on top, keeping the view where it was.
  function prepend(messages, hasMore) {
    const before = el.scroller.scrollHeight;
    const fragment = document.createDocumentFragment();
    const added = [];
    for (const m of messages) {
      if (oldest !== null && m.seq >= oldest) continue;
      const li = buildMessage(m);
      fragment.appendChild(li);
      shown.set(m.seq, li);
      added.push([li, m]);
    }
    el.list.insertBefore(fragment, el.list.firstChild);
    if (added.length) relayout();
    if (added.length) {
      oldest = added[0][1].seq;
      if (order.last === 0) order.last = added[added.length - 1][1].seq;
    }
    el.scroller.scrollTop += el.scroller.scrollHeight - before;
    // The divider of a room opened with unread messages goes up to the first unread one
    // of an older page (the older page was unread too).
    if (openDivider && added.length) {
      const mark = Number(openDivider.dataset.mark);
      const seq = firstUnread(added.map((pair) => pair[1]), mark, config.username);
      if (seq !== null) {
        const keep = el.scroller.scrollTop;
        placeOpenDivider(mark);
        el.scroller.scrollTop = keep;
      }
    }
    hasMoreBefore = hasMore && added.length > 0;
    showOlderControls();
    for (const [li, m] of added) rendered(li, m);
  }

  function showOlderControls() {
    el.olderButton.hidden = !hasMoreBefore;
    el.olderStart.hidden = hasMoreBefore || oldest === null;
  }

  function setRoom(room) {
    if (!room || typeof room !== "object") return;
    config.room = Object.assign({}, config.room, room);
    if (!config.room.private) delete config.room.members; // made public: everyone's room
    if (typeof config.room.title === "string") {
      const label = config.dm_with || roomLabel(config.room, config.username);
      el.title.textContent = label;
      configureTitle({ base: label + " · " + gettext("Chat") });
    }
    if (el.icon) el.icon.replaceChildren(roomIcon(Object.assign({ with: config.dm_with }, config.room), config.username, true));
    members.roster(config.room.private ? config.room.members : null);
    const topic = typeof config.room.topic === "string" ? config.room.topic : "";
    el.topic.textContent = topic;
    el.topic.title = topic;
    el.topicLine.hidden = !topic;
    const notes = [];
    if (config.room.locked) notes.push(gettext("locked: only moderators post"));
    if (config.room.slow_mode) {
      notes.push(format(gettext("slow mode: one message every %(s)s s"), { s: config.room.slow_mode }));
    }
    el.roomNote.textContent = notes.join(" · ");
    el.roomNote.hidden = notes.length === 0;
    updateComposer();
  }

  // --- connection state ------------------------------------------------------------------

  // The pill shows every change (the countdown too); the screen-reader announcement says
  // only when the state itself changes, never each second of a countdown.
  function setState(state, text) {
    const changed = el.state.dataset.state !== state;
    el.state.dataset.state = state;
    el.state.textContent = text;
    if (changed && started) {
      el.announce.textContent = state === "reconnecting" ? gettext("Connection lost, reconnecting") : text;
    }
  }

  // `toRoomList`: the banner ends with a link to the room list (the way out of a room this
  // user cannot use any more).
  function showBanner(text, toRoomList) {
    clearTimeout(noticeTimer);
    el.banner.textContent = text;
    if (toRoomList) {
      const link = document.createElement("a");
      link.href = document.querySelector(".brand").getAttribute("href");
      link.className = "banner-link";
      link.textContent = gettext("Go to the room list");
      el.banner.append(" ", link);
    }
    el.banner.hidden = false;
  }

  // A passing message (a refused command): shown for a few seconds.
  let noticeTimer = null;
  function showNotice(text) {
    if (finalState) return;
    showBanner(text);
    noticeTimer = setTimeout(function () {
      if (!finalState) el.banner.hidden = true;
    }, 6000);
  }

  function updateCountdown() {
    const seconds = Math.max(1, Math.ceil((retryAt - Date.now()) / 1000));
    setState("reconnecting", format(gettext("reconnecting in %(s)ss"), { s: seconds }));
  }

  // --- the socket ------------------------------------------------------------------------

  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    // Detached, the socket resumes from the live end (the window is history already).
    sinceSent = detached ? Math.max(liveLast, order.last) : order.last;
    return scheme + location.host + config.ws_path + "?since=" + sinceSent;
  }

  function connect() {
    clearRetry();
    if (finalState || (ws && ws.readyState <= WebSocket.OPEN)) return;
    if (!navigator.onLine) {
      setState("offline", gettext("offline"));
      return;
    }
    const id = ++connId;
    welcomed = false;
    requests = [];
    gapAskedAt = -1;
    setState("connecting", attempt ? gettext("reconnecting…") : gettext("connecting…"));
    let socket;
    try {
      socket = new WebSocket(socketUrl());
    } catch (err) {
      scheduleReconnect();
      return;
    }
    ws = socket;
    welcomeTimer = setTimeout(function () {
      if (id !== connId || welcomed) return;
      dropSocket();
      scheduleReconnect();
    }, WELCOME_WITHIN_MS);
    socket.onopen = function () {
      if (id !== connId) return;
      startHeartbeat(id);
    };
    socket.onmessage = function (event) {
      if (id !== connId) return;
      const frame = readFrame(event.data);
      if (!frame) return;
      handleFrame(frame);
      document.dispatchEvent(new CustomEvent("chat:frame", { detail: frame }));
    };
    socket.onclose = function (event) {
      if (id !== connId) return;
      const opened = welcomed;
      dropSocket();
      if (event.code === CLOSE.REMOVED) {
        removedAt = Date.now();
        if (leaving) {
          stopFor("closed", "");
          document.dispatchEvent(new CustomEvent("chat:left"));
          return;
        }
        if (listing.lost) return stopForMembership();
        // Removed from a private room, or banned, kicked or logged out: the room list says
        // which (a removal takes the room out of it; that frame may come a moment later).
        return stopFor("closed", gettext("You can no longer chat here: you were removed from this room, or logged out. Reload the page to try again."));
      }
      if (event.code === CLOSE.ROOM_DELETED) return stopFor("closed", gettext("This room was deleted."));
      if (!opened && listing.lost) return stopForMembership(); // the handshake is refused now
      if (!opened && attempt >= 2) checkStillLoggedIn();
      scheduleReconnect();
    };
  }

  // The room on screen left this user's room list (docs/protocol.md "Private rooms"): a
  // removal, their own leave, or a public room made private. With the 4403 close that
  // comes with it, the page says so once and stops; it never reconnects.
  const listing = new Listing(config.room.slug);
  let removedAt = 0;
  let leaving = false; // people.js's "Leave room": the close is the answer, not news

  document.addEventListener("chat:roomlist", function (event) {
    const lost = listing.take(event.detail && event.detail.rooms);
    if (!lost || leaving) return;
    // The close came first (within a few seconds), or the socket is down and retrying.
    if ((finalState && removedAt && Date.now() - removedAt < 30000) || (!welcomed && !finalState)) {
      stopForMembership();
    }
  });

  function stopForMembership() {
    const wasPublic = !config.room.private;
    stopFor(
      "closed",
      wasPublic
        ? gettext("This room is private now: only its members can open it.")
        : gettext("You are no longer a member of this room."),
      true,
    );
  }

  // Forget the current socket (closing it if it is still open) and every timer tied to it.
  function dropSocket() {
    const socket = ws;
    ws = null;
    connId++;
    welcomed = false;
    requests = [];
    loadingOlder = false;
    loadingNewer = false;
    jumpTarget = null;
    peeking.clear();
    clearTimeout(healthyTimer);
    clearTimeout(welcomeTimer);
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    pongTimer = null;
    if (socket && socket.readyState <= WebSocket.OPEN) {
      try {
        socket.close();
      } catch (err) {
        /* already closing */
      }
    }
    updateComposer();
  }

  function scheduleReconnect() {
    if (finalState) return;
    if (!navigator.onLine) {
      setState("offline", gettext("offline"));
      return;
    }
    const delay = backoffDelay(attempt);
    attempt++;
    retryAt = Date.now() + delay;
    clearRetry();
    retryTimer = setTimeout(connect, delay);
    updateCountdown();
    countdownTimer = setInterval(updateCountdown, 1000);
  }

  function clearRetry() {
    clearTimeout(retryTimer);
    clearInterval(countdownTimer);
    retryTimer = countdownTimer = null;
  }

  function reconnectNow() {
    if (finalState) return;
    if (ws && welcomed) {
      ping(); // the socket may be half-open after sleep or a network change: check
      return;
    }
    if (ws) return; // a handshake is under way
    attempt = 0;
    connect();
  }

  function stopFor(state, text, toRoomList) {
    finalState = state;
    clearRetry();
    dropSocket();
    setState(state, state === "closed" ? gettext("disconnected") : state);
    if (text) showBanner(text, toRoomList);
    updateComposer();
    typists.clear();
  }

  // The handshake keeps failing: if the session is gone, reconnecting cannot help.
  function checkStillLoggedIn() {
    // The room list, not this page: a HEAD of a room URL could re-create a deleted room.
    fetch(document.querySelector(".brand").href, { method: "HEAD", redirect: "manual", credentials: "same-origin" })
      .then(function (response) {
        if (response.type === "opaqueredirect") {
          stopFor("closed", gettext("You are logged out. Log in again to chat."));
        }
      })
      .catch(function () {});
  }

  function send(frame) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  // --- heartbeat -------------------------------------------------------------------------

  function startHeartbeat(id) {
    clearInterval(pingTimer);
    pingTimer = setInterval(function () {
      if (id === connId) ping();
    }, PING_EVERY_MS);
  }

  function ping() {
    if (pongTimer) return; // one outstanding ping at a time
    if (!send({ type: "ping" })) return;
    const id = connId;
    pongTimer = setTimeout(function () {
      pongTimer = null;
      if (id !== connId) return;
      // No pong: the connection is dead even if the socket does not know it yet.
      dropSocket();
      scheduleReconnect();
    }, PONG_WITHIN_MS);
  }

  // --- frames ----------------------------------------------------------------------------

  function handleFrame(frame) {
    switch (frame.type) {
      case "welcome":
        return onWelcome(frame);
      case "message":
        if (frame.message) accept([frame.message], true);
        return;
      case "message_edited":
        return onEdited(frame.message);
      case "reactions":
        return onReactions(frame);
      case "ok":
        if (frame.command === "edit") editAnswered(frame);
        return;
      case "history":
        return onHistory(frame);
      case "error":
        return onError(frame);
      case "pong":
        clearTimeout(pongTimer);
        pongTimer = null;
        // The server's newest seq: above ours means a live frame went missing.
        if (typeof frame.last_seq === "number" && frame.last_seq > order.last) {
          if (detached) liveLast = Math.max(liveLast, frame.last_seq);
          else askForGap();
        }
        return;
      case "message_deleted": {
        const li = shown.get(frame.seq);
        if (li) markDeleted(li);
        else if (originals.has(frame.seq)) {
          const m = Object.assign(originals.get(frame.seq), { deleted: true, body: "", html: "" });
          refreshQuotes(m);
        }
        return;
      }
      case "room_updated":
        return setRoom(frame.room);
      case "presence":
        if (!frame.online) typists.stop(frame.user); // gone: no longer typing either
        return members.presence(frame.user, Boolean(frame.online));
      case "presence_changes":
        for (const name of Array.isArray(frame.offline) ? frame.offline : []) typists.stop(name);
        return members.changes(frame.online, frame.offline);
      case "typing":
        if (typeof frame.user === "string" && frame.user !== config.username) typists.typing(frame.user);
        return;
      case "standing":
        // A moderator muted or unmuted us here, or changed our role: the composer follows
        // at once (the moderation tools of a new moderator come with the next page load).
        if (frame.room === config.room.slug) {
          config.is_moderator = Boolean(frame.moderator);
          mutedUntil = frame.muted_until ? Date.parse(frame.muted_until) || 0 : 0;
          updateComposer();
        }
        return;
      case "unread":
        // This room's: read on another tab (or this one); the others' are the sidebar's.
        if (frame.room === config.room.slug) {
          reads.known(frame.last_read);
          refreshTitle();
        }
        return;
    }
  }

  // A message as it is now (`message_edited`): in place, wherever it shows.
  function onEdited(m) {
    if (!m || typeof m.seq !== "number") return;
    const li = shown.get(m.seq);
    if (li) fillMessage(li, m);
    else {
      remember(m);
      refreshQuotes(originals.get(m.seq));
    }
  }

  function onWelcome(frame) {
    welcomed = true;
    clearTimeout(welcomeTimer);
    setState("connected", gettext("connected"));
    el.banner.hidden = true;
    const id = connId;
    clearTimeout(healthyTimer);
    healthyTimer = setTimeout(function () {
      if (id === connId) attempt = 0;
    }, HEALTHY_AFTER_MS);
    config.is_moderator = Boolean(frame.moderator);
    // Muted now: the composer says until when (and opens again then, or on a welcome
    // without it: unmuted meanwhile).
    mutedUntil = frame.muted_until ? Date.parse(frame.muted_until) || 0 : 0;
    members.reset(frame.present);
    typists.clear();
    reads.known(frame.last_read);
    reads.setLimit(frame.last_seq);
    setRoom(frame.room);
    if (detached) liveLast = Math.max(liveLast, frame.last_seq || 0);
    // The replay above `since` starts at the first message that exists: a first seq above
    // since + 1 means the ones between were purged (docs/search.md "Retention").
    else order.skipPurged(sinceSent, frame.messages || []);
    accept(frame.messages || [], true);
    let opening = false;
    if (firstWelcome) {
      firstWelcome = false;
      // Read on another tab since the page was rendered: the divider follows the marker.
      if ((frame.last_read || 0) !== (config.last_read || 0) && openDivider) placeOpenDivider(frame.last_read || 0);
      opening = Number.isSafeInteger(config.at) && config.at > 0;
    }
    checkReadSoon();
    if (frame.has_more_after || (frame.last_seq || 0) > order.last) askForGap(true);
    updateComposer();
    flushOutbox();
    peekMissing();
    // A search result (`?at=<seq>`): open the room at that message, its context around it.
    if (opening) jumpTo(config.at, true);
  }

  function askForGap(force) {
    if (!welcomed || detached) return; // detached: the reader pages down (loadNewer)
    if (!force && gapAskedAt === order.last) return; // already asked from here; wait for it
    gapAskedAt = order.last;
    if (send({ type: "history", after: order.last, limit: GAP_PAGE })) {
      requests.push({ kind: "after", gen: listGen, after: order.last });
    }
  }

  function onHistory(frame) {
    const request = requests.shift() || {};
    const kind = request.kind;
    const messages = frame.messages || [];
    // A page asked for before the list was replaced (a jump) belongs to the old list.
    const stale = request.gen !== undefined && request.gen !== listGen;
    if (kind === "before") {
      loadingOlder = false;
      if (!stale) prepend(messages, Boolean(frame.has_more));
      return;
    }
    if (stale) {
      if (kind === "newer") loadingNewer = false;
      else if (kind === "after") gapAskedAt = -1;
      for (const m of messages) remember(m);
      return;
    }
    if (kind === "peek") return peekAnswered(request, messages);
    if (kind === "around") return aroundAnswered(request, frame);
    if (kind === "newer") return newerAnswered(request, frame);
    if (kind === "latest") return latestAnswered(frame);
    if (detached) {
      gapAskedAt = -1; // a gap asked for before the list was detached: not this list's
      return;
    }
    const before = order.last;
    // The page starts at the first message that exists above what was asked: a start above
    // last + 1 proves the seqs between were purged; go on past them.
    if (kind === "after") order.skipPurged(request.after, messages);
    accept(messages);
    gapAskedAt = -1;
    // More beyond this page, or still a hole below what we hold: ask again if we progressed.
    if ((frame.has_more || order.gap) && order.last > before) askForGap(true);
  }

  function onError(frame) {
    const entry = frame.client_id && outbox.find((e) => e.client_id === frame.client_id);
    if (entry) {
      if (FINAL_CODES.has(frame.code)) {
        entry.status = "failed";
        // Kept as the code and what shapes its sentence: said in the page's language.
        entry.error = refusal(frame, { locked: Boolean(config.room.locked) });
        delete entry.sentOn;
        if (frame.code === ERROR.FORBIDDEN && frame.until) {
          mutedUntil = Date.parse(frame.until) || 0;
          updateComposer();
        }
      } else {
        // unavailable, rate_limited...: the server stored nothing; try again a bit later.
        const wait = Math.max(1, Number(frame.retry_after) || 2) * 1000;
        entry.retryAfter = Date.now() + wait;
        delete entry.sentOn;
        setTimeout(flushOutbox, wait + 50);
      }
      saveOutbox();
      renderOutbox();
      return;
    }
    // Our posts always carry a client_id. A history request can only fail as `unavailable`
    // (we never send a malformed one); other errors answer moderation commands (moderation.js).
    if (!frame.client_id && !frame.command && frame.code === ERROR.UNAVAILABLE && requests.length) {
      const request = requests.shift() || {};
      const kind = request.kind;
      if (kind === "before") loadingOlder = false;
      else if (kind === "newer") loadingNewer = false;
      else if (kind === "peek") peeking.delete(request.seq);
      else if (kind === "around") jumpTarget = null;
      else if (kind !== "latest") gapAskedAt = -1;
    }
    if (frame.command === "edit") editAnswered(frame);
    if (frame.command === "react") reactionRefused();
    // A command whose dialog is open says its refusal there (people.js claims it).
    if (frame.command && claimed.has(frame.command)) return;
    showNotice(errorText(frame, { locale: LOCALE }));
  }
  const claimed = new Set();

  // --- outbox ----------------------------------------------------------------------------

  function loadOutbox() {
    try {
      const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "[]");
      return Array.isArray(stored) ? stored.filter((e) => e && e.client_id && typeof e.body === "string") : [];
    } catch (err) {
      return [];
    }
  }

  function saveOutbox() {
    try {
      const keep = outbox.map((e) => ({
        client_id: e.client_id,
        body: e.body,
        reply_to: e.reply_to,
        status: e.status,
        error: e.error,
        reason: e.reason,
      }));
      if (keep.length) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(keep));
      else sessionStorage.removeItem(STORAGE_KEY);
    } catch (err) {
      /* storage full or disabled: the outbox still works for this page */
    }
  }

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // A stored message whose client_id is in the outbox is that entry's echo: retire it.
  function settleOutbox(m) {
    if (!m.client_id || m.user !== config.username) return false;
    const index = outbox.findIndex((e) => e.client_id === m.client_id);
    if (index < 0) return false;
    outbox.splice(index, 1);
    saveOutbox();
    renderOutbox();
    return true;
  }

  let ackTimer = null;

  function flushOutbox() {
    if (!welcomed) return;
    const now = Date.now();
    let waiting = false;
    for (const entry of outbox) {
      if (entry.status !== "pending") continue;
      if (entry.sentOn === connId && now - entry.sentAt < ACK_WITHIN_MS) {
        waiting = true;
        continue;
      }
      if (entry.retryAfter && entry.retryAfter > now) continue;
      const post = { type: "message", body: entry.body, client_id: entry.client_id };
      if (Number.isSafeInteger(entry.reply_to) && entry.reply_to > 0) post.reply_to = entry.reply_to;
      if (!send(post)) return;
      entry.sentOn = connId;
      entry.sentAt = now;
      delete entry.retryAfter;
      waiting = true;
    }
    clearTimeout(ackTimer);
    if (waiting) ackTimer = setTimeout(flushOutbox, ACK_WITHIN_MS + 100);
  }

  // Why a post failed, in the page's language (an entry stored by an older page may
  // have only the English `reason`).
  function failure(entry) {
    return entry.error ? errorText(entry.error, { locale: LOCALE }) : entry.reason || "";
  }

  function renderOutbox() {
    const stick = nearBottom();
    el.outbox.replaceChildren();
    for (const entry of outbox) {
      const li = document.createElement("li");
      li.className = "outbox-item " + entry.status;
      li.dataset.clientId = entry.client_id;
      const head = document.createElement("div");
      head.className = "msg-head";
      const user = document.createElement("span");
      user.className = "msg-user";
      user.textContent = config.username;
      const status = document.createElement("span");
      status.className = "status";
      status.textContent = entry.status === "failed"
        ? format(gettext("not sent: %(reason)s"), { reason: failure(entry) })
        : gettext("sending…");
      head.append(user, status);
      if (entry.status === "failed") {
        const discard = document.createElement("button");
        discard.type = "button";
        discard.className = "link-button discard";
        discard.textContent = gettext("Dismiss");
        discard.addEventListener("click", function () {
          outbox = outbox.filter((e) => e !== entry);
          saveOutbox();
          renderOutbox();
        });
        head.append(discard);
      }
      const body = document.createElement("div");
      body.className = "msg-body";
      body.textContent = entry.body;
      li.append(head, body);
      el.outbox.appendChild(li);
    }
    if (stick) scrollToBottom();
  }

  function submit() {
    if (editBar.active) return saveEdit();
    const body = el.input.value.trim();
    if (!body || finalState || blockedReason()) return;
    if (counterState(body, config.max_length).over) {
      updateCounter();
      el.input.focus();
      return; // never cut: the counter says how much to remove
    }
    const entry = { client_id: newClientId(), body: body, status: "pending" };
    if (replyBar.active) entry.reply_to = replyBar.seq;
    cancelReply();
    if (detached) goLatest(); // what is sent shows at the live end
    outbox.push(entry);
    typingSender.reset(); // the next message's first keystroke says "typing" at once
    saveOutbox();
    renderOutbox();
    el.input.value = "";
    resizeInput();
    updateCounter();
    scrollToBottom();
    flushOutbox();
  }

  // Why this user cannot post right now (null: they can).
  let mutedUntil = 0;
  let muteTimer = null;
  function blockedReason() {
    if (finalState) return gettext("You can no longer post in this room.");
    if (config.room.locked && !config.is_moderator) {
      return gettext("This room is locked: only moderators can post.");
    }
    if (mutedUntil > Date.now()) {
      const until = new Intl.DateTimeFormat(LOCALE, { timeStyle: "short" }).format(new Date(mutedUntil));
      return format(gettext("You are muted in this room until %(time)s."), { time: until });
    }
    return null;
  }

  function updateComposer() {
    const reason = blockedReason();
    el.send.disabled = Boolean(reason);
    el.input.disabled = Boolean(reason);
    el.composerNote.textContent = reason || "";
    el.composerNote.hidden = !reason;
    clearTimeout(muteTimer);
    if (mutedUntil > Date.now()) muteTimer = setTimeout(updateComposer, mutedUntil - Date.now() + 500);
  }

  // Near the limit, how many characters are left; over it, the send is refused.
  function updateCounter() {
    const state = counterState(el.input.value, config.max_length);
    el.counter.hidden = !state.visible;
    el.counter.classList.toggle("over", state.over);
    el.counter.textContent = state.over
      ? format(gettext("%(n)s characters too long"), { n: -state.left })
      : format(gettext("%(n)s characters left"), { n: state.left });
    el.input.setAttribute("aria-invalid", state.over ? "true" : "false");
    if (!finalState && !blockedReason()) el.send.disabled = state.over;
  }

  function resizeInput() {
    el.input.style.height = "auto";
    el.input.style.height = Math.min(el.input.scrollHeight + 2, 160) + "px";
  }

  // --- read markers ----------------------------------------------------------------------

  // A message is read once it is on screen: at least half of it (or half the pane, for a
  // tall one) in the scroller, while the tab is visible and has the focus. At most one
  // `read` per READ_DEBOUNCE_MS, never below what the server knows, never above the
  // room's last seq (ReadTracker).
  function checkReadSoon() {
    if (!readTimer) readTimer = setTimeout(checkRead, READ_DEBOUNCE_MS);
  }

  function checkRead() {
    readTimer = null;
    if (!welcomed) return; // the next welcome checks again
    if (document.visibilityState !== "visible" || !document.hasFocus()) return;
    const seq = reads.next(highestSeen());
    if (seq !== null && send({ type: "read", seq: seq })) {
      reads.sent(seq);
      refreshTitle();
    }
  }

  function highestSeen() {
    const pane = el.scroller.getBoundingClientRect();
    const items = el.list.querySelectorAll("li.msg");
    for (let i = items.length - 1; i >= 0; i--) {
      const box = items[i].getBoundingClientRect();
      if (box.top >= pane.bottom) continue; // below the pane
      if (box.bottom <= pane.top) return 0; // this one and all above it: scrolled past
      const visible = Math.min(box.bottom, pane.bottom) - Math.max(box.top, pane.top);
      if (visible >= Math.min(box.height, pane.height) / 2) return Number(items[i].dataset.seq);
    }
    return 0;
  }

  // This room's unread messages, for the title while the tab is hidden: those the page
  // holds above the marker, or the server's count when it holds fewer (older pages).
  function unreadHere() {
    const local = unreadAbove(messagesShown(), reads.read, config.username);
    const server = counts.get(config.room.slug);
    return server && server.last_read >= reads.read ? Math.max(local, server.unread) : local;
  }

  // --- older pages -----------------------------------------------------------------------

  function loadOlder() {
    if (!hasMoreBefore || loadingOlder || oldest === null || !welcomed) return;
    if (send({ type: "history", before: oldest, limit: PAGE })) {
      requests.push({ kind: "before", gen: listGen });
      loadingOlder = true;
    }
  }

  // --- rich messages: the per-message actions ------------------------------------------

  // React, Reply and (on the user's own, within the edit window) Edit, first in the
  // message's .msg-actions (moderation.js adds its own after them).
  function richButton(label, action, title, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "link-button rich-action";
    b.dataset.action = action;
    b.textContent = label;
    b.title = title;
    b.addEventListener("click", onClick);
    return b;
  }

  function decorateRich(li) {
    const box = li.querySelector(".msg-actions");
    if (!box) return;
    box.querySelectorAll(".rich-action").forEach((b) => b.remove());
    const m = data.get(li);
    const seq = Number(li.dataset.seq);
    if (!m || !seq || m.deleted || li.classList.contains("deleted")) return;
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", gettext("Message actions"));
    const buttons = [];
    const react = richButton(gettext("React"), "react", gettext("Add a reaction"), () => openPicker(seq, react));
    react.setAttribute("aria-haspopup", "dialog");
    buttons.push(react);
    buttons.push(richButton(gettext("Reply"), "reply", gettext("Reply to this message"), () => startReply(seq)));
    if (editable(m, config.username, config.edit_window)) {
      buttons.push(richButton(gettext("Edit"), "edit", gettext("Edit this message"), () => startEdit(seq)));
    }
    const focused = li.contains(document.activeElement);
    for (const b of buttons) b.tabIndex = focused ? 0 : -1;
    box.prepend(...buttons);
  }

  // --- reactions ---------------------------------------------------------------------------

  const picker = new Picker();
  const pendingReactions = new Map(); // seq -> Map(emoji -> {on, at}): clicks not yet confirmed
  const reactionsMax = Number(config.reactions_max) || REACTIONS_MAX;

  function showReactions(li) {
    const seq = Number(li.dataset.seq);
    const m = data.get(li);
    const box = li.querySelector(".reactions");
    if (!box || !m) return;
    const pending = pendingReactions.get(seq);
    if (pending) {
      settle(m.reactions, pending, config.username, Date.now());
      if (!pending.size) pendingReactions.delete(seq);
    }
    const had = box.contains(document.activeElement) ? document.activeElement.dataset.emoji || "+" : null;
    renderChips(box, merged(m.reactions, pendingReactions.get(seq), config.username), config.username, {
      onToggle: (emoji) => toggleReaction(seq, emoji),
      onAdd: (button) => openPicker(seq, button),
    });
    // Focus stays on the chip that was clicked (its list was rebuilt).
    if (had !== null) {
      const again = had === "+"
        ? box.querySelector(".reaction-add")
        : Array.from(box.querySelectorAll(".reaction")).find((b) => b.dataset.emoji === had);
      (again || li).focus();
    }
    const tabbable = li.contains(document.activeElement);
    for (const b of box.querySelectorAll("button")) if (!b.contains(document.activeElement)) b.tabIndex = tabbable ? 0 : -1;
  }

  function displayedReactions(seq) {
    const li = shown.get(seq);
    const m = li && data.get(li);
    return m ? merged(m.reactions, pendingReactions.get(seq), config.username) : [];
  }

  function toggleReaction(seq, emoji) {
    const li = shown.get(seq);
    if (!li) return;
    const now = displayedReactions(seq);
    if (!mayAdd(now, emoji, reactionsMax)) {
      showNotice(format(gettext("This message has the most reactions it can have (%(n)s)."), { n: reactionsMax }));
      return;
    }
    if (!send({ type: "react", seq: seq, emoji: emoji })) {
      showNotice(gettext("You are not connected right now. Try again in a moment."));
      return;
    }
    if (!pendingReactions.has(seq)) pendingReactions.set(seq, new Map());
    pendingReactions.get(seq).set(emoji, { on: !hasReacted(now, emoji, config.username), at: Date.now() });
    showReactions(li);
    // A toggle the server never answers stops showing.
    setTimeout(() => {
      const again = shown.get(seq);
      if (again) showReactions(again);
    }, PENDING_MS + 100);
  }

  function openPicker(seq, opener) {
    picker.open(opener, {
      reactions: displayedReactions(seq),
      me: config.username,
      max: reactionsMax,
      onPick: (emoji) => toggleReaction(seq, emoji),
      refocus: () => {
        const li = shown.get(seq);
        const add = li && li.querySelector(".reaction-add");
        if (add || li) (add || li).focus();
      },
    });
  }

  function onReactions(frame) {
    const li = shown.get(frame.seq);
    const m = li ? data.get(li) : originals.get(frame.seq);
    if (!m) return;
    m.reactions = Array.isArray(frame.reactions) ? frame.reactions : [];
    if (li) showReactions(li);
  }

  // A refused `react`: the clicks waiting for the server show as it says again.
  function reactionRefused() {
    const seqs = Array.from(pendingReactions.keys());
    pendingReactions.clear();
    for (const seq of seqs) {
      const li = shown.get(seq);
      if (li) showReactions(li);
    }
  }

  // --- the composer's modes: a reply, an edit ---------------------------------------------

  const replyBar = new ReplyBar(el.replyBar, () => el.input.focus());
  const editBar = new EditBar(el.editBar, () => cancelEdit(), el.send);

  function startReply(seq) {
    const m = originalOf(seq);
    if (!m || finalState) return;
    if (editBar.active) cancelEdit();
    replyBar.set(m);
    if (!el.input.disabled) el.input.focus();
  }

  function cancelReply() {
    replyBar.clear();
  }

  function startEdit(seq) {
    const m = originalOf(seq);
    if (!m || m.user !== config.username || m.deleted) return;
    if (!editable(m, config.username, config.edit_window)) {
      showNotice(gettext("You can no longer edit this message."));
      const li = shown.get(seq);
      if (li) decorateRich(li);
      return;
    }
    if (el.input.disabled) return;
    if (replyBar.active) cancelReply();
    const draft = editBar.active ? editBar.draft : el.input.value;
    for (const x of el.list.querySelectorAll("li.msg.editing")) x.classList.remove("editing");
    editBar.set(m, draft);
    const li = shown.get(seq);
    if (li) li.classList.add("editing");
    el.input.value = m.body;
    resizeInput();
    updateCounter();
    el.input.focus();
    el.input.setSelectionRange(el.input.value.length, el.input.value.length);
  }

  function cancelEdit() {
    if (!editBar.active) return;
    for (const x of el.list.querySelectorAll("li.msg.editing")) x.classList.remove("editing");
    el.input.value = editBar.clear();
    resizeInput();
    updateCounter();
    if (!el.input.disabled) el.input.focus();
  }

  function saveEdit() {
    const body = el.input.value.trim();
    const m = originalOf(editBar.seq);
    if (!body || editBar.saving) return;
    if (counterState(body, config.max_length).over) {
      updateCounter();
      return;
    }
    if (m && body === m.body) return cancelEdit(); // unchanged: nothing to send
    if (!send({ type: "edit", seq: editBar.seq, body: body })) {
      showNotice(gettext("You are not connected right now. Try again in a moment."));
      return;
    }
    editBar.saving = true;
  }

  function editAnswered(frame) {
    if (!editBar.active) return;
    if (frame.type === "ok") {
      if (Number(frame.seq) === editBar.seq || frame.seq === undefined) cancelEdit();
    } else editBar.saving = false; // refused: still editing, the banner says why
  }

  // --- mentions ----------------------------------------------------------------------------

  // Who may be mentioned from here: a private room's members; else who is online and the
  // authors of what is loaded.
  function mentionable() {
    if (config.room.private && Array.isArray(config.room.members)) return config.room.members;
    const names = new Set(members.members.list());
    for (const m of messagesShown()) names.add(m.user);
    return Array.from(names);
  }

  const mentionBox = new MentionBox({
    input: el.input,
    list: el.mentionList,
    status: el.mentionStatus,
    people: mentionable,
    me: config.username,
  });

  // --- jumping to a message, and the window around it -------------------------------------

  const AROUND = 50; // a window: 24 messages before the target, it, and 25 after

  // Scroll to message `seq`, highlight it briefly and focus it; when it is not loaded,
  // load a window around it first.
  // `mark`: the message stays marked (a search result opened with ?at=), and a seq the
  // room no longer has (purged, or never there) is said.
  function jumpTo(seq, mark) {
    seq = Number(seq);
    if (!Number.isSafeInteger(seq) || seq <= 0) return;
    const li = shown.get(seq);
    if (li) return highlight(li, mark);
    if (!welcomed) {
      showNotice(gettext("You are not connected right now. Try again in a moment."));
      return;
    }
    const after = Math.max(0, seq - AROUND / 2);
    if (send({ type: "history", after: after, limit: AROUND })) {
      jumpTarget = seq;
      requests.push({ kind: "around", seq: seq, after: after, mark: Boolean(mark) });
    }
  }

  function highlight(li, mark) {
    if (mark) {
      for (const x of el.list.querySelectorAll("li.msg.target")) x.classList.remove("target");
      li.classList.add("target");
    }
    li.scrollIntoView({ block: "center" });
    li.classList.remove("flash");
    void li.offsetWidth; // restart the animation
    li.classList.add("flash");
    setTimeout(() => li.classList.remove("flash"), 2500);
    li.focus({ preventScroll: true });
    checkReadSoon();
  }

  // Replace the whole list with `messages` (contiguous, oldest first). `live`: they reach
  // the room's end (the server said no more after them), else the list is detached.
  function resetList(messages, live) {
    if (!messages.length) return;
    if (!detached) liveLast = Math.max(liveLast, order.last);
    listGen++;
    loadingOlder = false;
    loadingNewer = false;
    el.list.replaceChildren();
    shown.clear();
    order.ahead.clear();
    order.last = messages[0].seq - 1;
    oldest = null;
    hasMoreBefore = messages[0].seq > 1;
    unreadFrom = null;
    openDivider = null;
    detached = !live;
    appendPage(messages);
    seenAll();
    if (detached) showJump();
    else {
      liveLast = Math.max(liveLast, order.last);
      if (liveLast > order.last) askForGap(true);
    }
  }

  // A page of history appended below the list (no "new messages" for it: it is old).
  function appendPage(messages) {
    const { display, known } = order.take(messages);
    for (const m of known) {
      const li = shown.get(m.seq);
      if (li) fillMessage(li, m);
    }
    const added = [];
    for (const m of display) {
      const li = buildMessage(m);
      el.list.appendChild(li);
      shown.set(m.seq, li);
      if (oldest === null) oldest = m.seq;
      added.push([li, m]);
    }
    if (added.length) relayout();
    showOlderControls();
    for (const [li, m] of added) rendered(li, m);
    reads.setLimit(Math.max(order.last, liveLast));
  }

  function aroundAnswered(request, frame) {
    if (jumpTarget === request.seq) jumpTarget = null;
    const messages = (frame.messages || []).filter((m) => m && typeof m.seq === "number");
    for (const m of messages) remember(m);
    if (!messages.some((m) => m.seq === request.seq)) {
      // No such message (purged, or beyond the room's end): the list stays as it is.
      if (request.mark) showNotice(gettext("That message is not in this room."));
      return;
    }
    if (shown.has(request.seq)) return highlight(shown.get(request.seq), request.mark); // loaded meanwhile
    resetList(messages, !frame.has_more);
    // The window starts at the first message that exists above `after`: when that is
    // above after + 1, the ones below it were purged and nothing older is left.
    if (Number.isSafeInteger(request.after) && messages[0].seq > request.after + 1) {
      hasMoreBefore = false;
      showOlderControls();
    }
    const li = shown.get(request.seq);
    if (li) highlight(li, request.mark);
  }

  // Detached, scrolled to the bottom: the next page down.
  function loadNewer() {
    if (!detached || loadingNewer || !welcomed) return;
    if (send({ type: "history", after: order.last, limit: PAGE })) {
      loadingNewer = true;
      requests.push({ kind: "newer", gen: listGen, after: order.last });
    }
  }

  function newerAnswered(request, frame) {
    loadingNewer = false;
    if (!detached) return;
    order.skipPurged(request.after, frame.messages || []); // purged under the window meanwhile
    appendPage(frame.messages || []);
    if (!frame.has_more) attach();
  }

  // The list reaches the live end again.
  function attach() {
    detached = false;
    liveLast = Math.max(liveLast, order.last);
    seenAll();
    if (liveLast > order.last) askForGap(true);
  }

  // "Jump to latest" while detached: the latest page, as a fresh list.
  function goLatest() {
    if (!detached) {
      scrollToBottom();
      seenAll();
      return;
    }
    if (requests.some((r) => r.kind === "latest" && r.gen === listGen)) return; // on its way
    if (send({ type: "history", limit: PAGE })) requests.push({ kind: "latest", gen: listGen });
  }

  function latestAnswered(frame) {
    if (!detached) return;
    const messages = frame.messages || [];
    if (!messages.length) return;
    resetList(messages, true);
    hasMoreBefore = Boolean(frame.has_more);
    showOlderControls();
    scrollToBottom();
    if (!el.input.disabled) el.input.focus();
  }

  // A live message while detached: not shown (the list would have a hole), only counted.
  function divert(messages) {
    let sent = false;
    for (const m of messages) {
      if (!m || typeof m.seq !== "number") continue;
      if (settleOutbox(m)) sent = true; // this page's own post: show it, at the live end
      remember(m);
      const li = shown.get(m.seq);
      if (li) fillMessage(li, m);
      if (m.seq > liveLast) {
        liveLast = m.seq;
        if (m.user !== config.username) typists.stop(m.user);
      }
    }
    reads.setLimit(Math.max(order.last, liveLast));
    showJump();
    if (sent) goLatest();
  }

  // --- wiring ----------------------------------------------------------------------------

  el.form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
  });
  el.input.addEventListener("keydown", function (event) {
    if (mentionBox.keydown(event)) return; // the suggestions took it
    if (event.isComposing) return;
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      submit();
    } else if (event.key === "Escape" && (editBar.active || replyBar.active)) {
      event.preventDefault();
      event.stopPropagation();
      if (editBar.active) cancelEdit();
      else cancelReply();
    } else if (event.key === "ArrowUp" && !el.input.value && !editBar.active && !event.altKey && !event.shiftKey) {
      const m = lastEditable(messagesShown(), config.username, config.edit_window);
      if (m) {
        event.preventDefault();
        startEdit(m.seq);
      }
    }
  });
  el.input.addEventListener("input", function () {
    resizeInput();
    updateCounter();
    if (editBar.active) return; // an edit is not a message being typed
    if (welcomed && !el.input.disabled && typingSender.input(el.input.value, Date.now())) {
      send({ type: "typing" });
    }
  });
  el.jump.addEventListener("click", function () {
    if (detached) return goLatest();
    scrollToBottom();
    seenAll();
    el.input.focus();
  });
  el.olderButton.addEventListener("click", loadOlder);
  el.scroller.addEventListener("scroll", function () {
    checkReadSoon();
    if (el.scroller.scrollTop < 120) loadOlder();
    if (detached && nearBottom()) loadNewer();
    else if (nearBottom()) {
      seenAll();
      if (unreadFrom && document.hasFocus()) unreadFrom = null; // the divider stays where it is
    }
  }, { passive: true });

  window.addEventListener("online", reconnectNow);
  window.addEventListener("offline", function () {
    // The browser says the network is gone: stop pretending and queue what is typed.
    clearRetry();
    dropSocket();
    if (!finalState) setState("offline", gettext("offline"));
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") reconnectNow();
    checkReadSoon();
    refreshTitle();
  });
  window.addEventListener("focus", checkReadSoon);

  window.chat = {
    send: send,
    username: config.username,
    room: config.room.slug,
    isModerator: Boolean(config.is_moderator),
    config: config,
    focusComposer: function () {
      if (!el.input.disabled) el.input.focus();
    },
    // people.js: the refusals of `command` are said in its open dialog, not the banner.
    claim: function (command, on) {
      if (on) claimed.add(command);
      else claimed.delete(command);
    },
    // people.js: a "Leave room" is under way: the close that answers it is no news.
    leaving: function (on) {
      leaving = on !== false;
    },
    connected: function () {
      return welcomed;
    },
    members: members,
    // Scroll to message `seq` (loading a window of history around it when it is not
    // loaded), highlight and focus it: reply quotes; with `mark` true it stays marked and
    // a seq the room does not have is said (a search result, ?at=).
    jumpTo: jumpTo,
  };

  function start() {
    // The server rendered the latest page; take over its list with the same data.
    el.list.replaceChildren();
    if (initial.messages.length) order.last = initial.messages[0].seq - 1;
    accept(initial.messages);
    showOlderControls();
    configureTitle({ current: config.room.slug, here: unreadHere });
    setRoom(config.room);
    renderOutbox();
    updateCounter();
    updateComposer();
    const divider = placeOpenDivider(reads.read);
    if (divider) {
      scrollToDivider(divider);
      if (!nearBottom()) {
        unseen = unreadAbove(messagesShown(), reads.read, config.username);
        showJump(); // the pill jumps past them to the latest
      }
    } else scrollToBottom();
    started = true;
    if (!el.input.disabled) el.input.focus();
    // A search result among the messages rendered with the page: shown at once (the
    // welcome's jump then finds it loaded).
    if (Number.isSafeInteger(config.at) && shown.has(config.at)) highlight(shown.get(config.at), true);
    connect();
  }

  // Start once every deferred script has run (DOMContentLoaded comes after them), so their
  // chat:rendered and chat:frame listeners (moderation.js) see the first page too.
  let started = false;
  let startCalled = false;
  function startOnce() {
    if (startCalled) return;
    startCalled = true;
    start();
  }
  if (document.readyState === "complete") startOnce();
  else {
    document.addEventListener("DOMContentLoaded", startOnce);
    window.addEventListener("load", startOnce);
  }
})();
