// The room header's menu ("⋯", templates/chat/room.html): room actions for everyone who
// reads the room; for now the transcript's downloads (docs/search.md "Transcripts"), plain
// links to /chat/<slug>/export.json and .txt with `download`. A menu button as the ARIA
// pattern has it: Enter, Space or ↓ opens it on the first item (↑ on the last), ↑/↓/Home/End
// move, Escape closes it back on the button, Tab or a click elsewhere closes it.
const toggle = document.getElementById("room-menu-toggle");
const menu = document.getElementById("room-menu");

function items() {
  return Array.from(menu.querySelectorAll('[role="menuitem"]'));
}

function isOpen() {
  return !menu.hidden;
}

function open(focusLast) {
  menu.hidden = false;
  toggle.setAttribute("aria-expanded", "true");
  const list = items();
  const target = focusLast ? list[list.length - 1] : list[0];
  if (target) target.focus();
}

function close(refocus) {
  if (!isOpen()) return;
  menu.hidden = true;
  toggle.setAttribute("aria-expanded", "false");
  if (refocus) toggle.focus();
}

if (toggle && menu) {
  toggle.addEventListener("click", function () {
    if (isOpen()) close(true);
    else open(false);
  });
  toggle.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      open(event.key === "ArrowUp");
    }
  });
  menu.addEventListener("keydown", function (event) {
    const list = items();
    const index = list.indexOf(document.activeElement);
    let next = null;
    if (event.key === "ArrowDown") next = list[(index + 1) % list.length];
    else if (event.key === "ArrowUp") next = list[(index - 1 + list.length) % list.length];
    else if (event.key === "Home") next = list[0];
    else if (event.key === "End") next = list[list.length - 1];
    else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation(); // not also "back to the composer" (keys.js)
      close(true);
      return;
    } else if (event.key === "Tab") {
      close(false);
      return;
    } else if (event.key === " ") {
      // Space activates a menu item, as Enter does on a link.
      event.preventDefault();
      if (index >= 0) list[index].click();
      return;
    }
    if (next) {
      event.preventDefault();
      next.focus();
    }
  });
  menu.addEventListener("click", function (event) {
    if (event.target.closest('[role="menuitem"]')) setTimeout(() => close(true), 0); // the download goes on
  });
  document.addEventListener("pointerdown", function (event) {
    if (isOpen() && !menu.contains(event.target) && !toggle.contains(event.target)) close(false);
  });
  document.addEventListener("focusin", function (event) {
    if (isOpen() && !menu.contains(event.target) && event.target !== toggle) close(false);
  });
}
