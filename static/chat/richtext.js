// A message's body on the page (docs/protocol.md "Rich messages"): the server's `html`
// (Markdown rendered and sanitized with nh3 on the server) is the only HTML the page ever
// inserts from a message, and even that passes a second allowlist here first (the same
// tags and attributes as chat/formatting.py; anything else is dropped, its text kept),
// parsed in an inert <template> (nothing in it loads or runs). Without `html` (an older
// server) the body is shown as text. Mentions of the user on the page are marked
// `mention-me`.

const TAGS = new Set(["P", "BR", "EM", "STRONG", "S", "CODE", "PRE", "BLOCKQUOTE", "UL", "OL", "LI", "A", "SPAN"]);
const DROP = new Set(["SCRIPT", "STYLE", "TEMPLATE", "IFRAME", "OBJECT", "EMBED", "SVG", "MATH", "NOSCRIPT", "TEXTAREA", "TITLE"]);
const SCHEMES = /^(https?|mailto):/i;

// A sanitized copy of `node`'s children into `into`.
function copy(node, into) {
  for (const child of Array.from(node.childNodes)) {
    if (child.nodeType === Node.TEXT_NODE) {
      into.append(document.createTextNode(child.data));
      continue;
    }
    if (child.nodeType !== Node.ELEMENT_NODE) continue; // comments and the like
    const tag = child.tagName.toUpperCase();
    if (DROP.has(tag)) continue;
    if (!TAGS.has(tag)) {
      copy(child, into); // unknown element: its text only
      continue;
    }
    const el = document.createElement(tag.toLowerCase());
    if (tag === "A") {
      const href = (child.getAttribute("href") || "").trim();
      if (SCHEMES.test(href)) {
        el.setAttribute("href", href);
        el.target = "_blank";
        el.rel = "noopener noreferrer nofollow";
      }
    } else if (tag === "OL") {
      const start = child.getAttribute("start");
      if (start && /^\d{1,9}$/.test(start)) el.setAttribute("start", start);
    } else if (tag === "SPAN" && child.classList.contains("mention")) {
      el.className = "mention";
      const user = child.getAttribute("data-user");
      if (user) el.dataset.user = user;
    }
    copy(child, el);
    into.append(el);
  }
}

// Fill `box` (a .msg-body) with message `m`'s body; `me`: the page's user.
export function renderBody(box, m, me) {
  if (typeof m.html === "string" && m.html) {
    const template = document.createElement("template");
    template.innerHTML = m.html; // inert: parsed, never rendered or run
    const fragment = document.createDocumentFragment();
    copy(template.content, fragment);
    box.replaceChildren(fragment);
    box.classList.add("rich");
    for (const span of box.querySelectorAll("span.mention")) {
      span.classList.toggle("mention-me", Boolean(me) && span.dataset.user === me);
    }
  } else {
    box.classList.remove("rich");
    box.textContent = typeof m.body === "string" ? m.body : "";
  }
}

// Whether message `m` mentions `me` (its `mentions`, from the server).
export function mentionsMe(m, me) {
  return Boolean(me) && Array.isArray(m.mentions) && m.mentions.includes(me);
}
