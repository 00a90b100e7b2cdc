"""Static files storage: whitenoise's hashed, compressed files once `collectstatic` ran."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """With DEBUG off, pages link the content-hashed names from collectstatic's manifest.
    Before collectstatic has run (a benchmark or test server with DEBUG off) there is no
    manifest: link the plain names, which whitenoise then serves from static/ (settings
    turn its finders on), instead of failing every page."""

    def stored_name(self, name: str) -> str:
        if not self.hashed_files:
            return name
        return super().stored_name(name)
