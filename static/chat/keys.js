// Keyboard use of the room page: the "?" help dialog, Esc back to the composer, and the
// message list as one Tab stop: ↑/↓ move between messages (roving tabindex), and only the
// focused message's actions (and its author's name) are in the Tab sequence (so Tab goes
// from the list to the composer, not through every message's buttons).
const list = document.getElementById("messages");
const input = document.getElementById("composer-input");
const help = document.getElementById("help-dialog");
const helpButton = document.getElementById("help-open");

function typing(target) {
  return target && (target.closest("input, textarea, select, [contenteditable]") !== null);
}

function openHelp() {
  if (help && !help.open) help.showModal();
}

if (helpButton) helpButton.addEventListener("click", openHelp);

document.addEventListener("keydown", function (event) {
  if (event.defaultPrevented) return;
  if (event.key === "?" && !typing(event.target) && !document.querySelector("dialog[open]")) {
    event.preventDefault();
    openHelp();
  } else if (event.key === "Escape" && !document.querySelector("dialog[open]")) {
    if (list && list.contains(event.target) && input && !input.disabled) input.focus();
  }
});

// --- the message list ----------------------------------------------------------------------

function messages() {
  return Array.from(list.querySelectorAll("li.msg"));
}

// A message's actions, and its author's name (a button that opens their card: people.js)
// when it shows (a burst's later messages hide it); its reply quote, reaction chips and
// links too.
const IN_MESSAGE = ".msg-actions button, button.msg-user, .reply-quote, .reactions button, .msg-body a[href]";

function setActionsTabbable(li, on) {
  li.querySelectorAll(IN_MESSAGE).forEach((b) => {
    const hiddenName = b.classList.contains("msg-user") && li.classList.contains("cont");
    b.tabIndex = on && !hiddenName ? 0 : -1;
  });
}

// Exactly one message is the list's Tab stop: the focused one, else the latest.
export function refreshTabStop() {
  if (!list) return;
  const items = messages();
  const focused = items.find((li) => li.contains(document.activeElement));
  const stop = focused || items[items.length - 1];
  for (const li of items) {
    li.tabIndex = li === stop ? 0 : -1;
    setActionsTabbable(li, li === focused);
  }
}

if (list) {
  list.addEventListener("keydown", function (event) {
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown" && event.key !== "Home" && event.key !== "End") return;
    const items = messages();
    const current = items.findIndex((li) => li.contains(event.target));
    if (current < 0) return;
    event.preventDefault();
    let next = current;
    if (event.key === "ArrowUp") next = Math.max(0, current - 1);
    else if (event.key === "ArrowDown") next = Math.min(items.length - 1, current + 1);
    else if (event.key === "Home") next = 0;
    else next = items.length - 1;
    items[next].focus();
  });
  list.addEventListener("focusin", refreshTabStop);
  list.addEventListener("focusout", function () {
    setTimeout(refreshTabStop, 0);
  });
  document.addEventListener("chat:rendered", function () {
    queueMicrotask(refreshTabStop);
  });
  document.addEventListener("chat:actions", function () {
    refreshTabStop();
  });
}
