"""`manage.py export_room <slug> [--format json|text]`: a room's transcript on standard
output (chat/export.py), with a progress bar on standard error."""

from __future__ import annotations

import gc
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from chat import export, protocol, selectors


class Command(BaseCommand):
    help = "Write a room's transcript (JSON or plain text) to standard output."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the room's address, e.g. lobby")
        parser.add_argument("--format", choices=export.FORMATS, default="json")

    def handle(self, *args: Any, slug: str, format: str, **options: Any) -> None:
        normalized = protocol.normalize_slug(slug)
        room = selectors.get_room(normalized) if normalized else None
        if room is None:
            raise CommandError(f"There is no room {slug!r}.")
        total = max(0, room.last_seq - room.purged_upto)
        # What the export makes has no reference cycles: left alone, the cyclic collector
        # walks every object of the process again and again (a tenth of an export's time).
        gc.freeze()
        # The bar goes to stderr, so stdout is the transcript alone (tqdm hides it when
        # stderr is not a terminal).
        with tqdm(total=total, unit="msg", file=self.stderr._out, disable=None) as bar:
            for piece in export.stream(room, format, progress=bar.update):
                self.stdout.write(piece, ending="")
