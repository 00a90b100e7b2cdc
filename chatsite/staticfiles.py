"""Static files storage: whitenoise's hashed, compressed files once `collectstatic` ran."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """With DEBUG off, pages link the content-hashed names from collectstatic's manifest.
    Before collectstatic has run (a benchmark or test server with DEBUG off) there is no
    manifest: link the plain names, which whitenoise then serves from static/ (settings
    turn its finders on), instead of failing every page.

    The page's scripts are ES modules that import each other by relative name
    (`import { gettext } from "./i18n.js";`). Collected, each file is served under its
    hashed name with far-future cache headers, so those imports must name the hashed
    files too, or a browser would load the plain names (stale for a year after a deploy,
    or a module twice). Django rewrites them when this is on: the static forms
    `import ... from "./x.js";`, `export ... from "./x.js";` and `import "./x.js";`, with
    the path starting with `.` or `/` and the statement ending in `;` (and `import("...")`
    with a literal string). tests/test_collectstatic.py checks every import of
    static/chat/ comes out hashed."""

    support_js_module_import_aggregation = True

    def stored_name(self, name: str) -> str:
        if not self.hashed_files:
            return name
        return super().stored_name(name)
