"""`manage.py purge_messages [--days N] [--dry-run]`: remove messages older than their
room's retention period (chat/services/retention.py), in batches, with a progress bar.
Run it daily from cron (docs/search.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from chat.services import retention


class Command(BaseCommand):
    help = (
        "Purge messages older than each room's retention (its own setting, else --days, "
        "else CHAT_RETENTION_DAYS). Seqs are never reused; each room's purge is audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="days to keep in rooms without their own setting (default: CHAT_RETENTION_DAYS)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would go; change nothing"
        )
        parser.add_argument(
            "--batch", type=int, default=retention.BATCH, help="seqs per transaction"
        )

    def handle(
        self, *args: Any, days: int | None, dry_run: bool, batch: int, **options: Any
    ) -> None:
        if days is not None and days < 1:
            self.stderr.write("--days must be 1 or more.")
            raise SystemExit(2)
        planned = retention.plan(days)
        if not planned:
            self.stdout.write("Nothing to purge.")
            return
        total = sum(p.count for p in planned)
        verb = "Would purge" if dry_run else "Purging"
        self.stdout.write(f"{verb} {total} messages in {len(planned)} rooms:")
        for p in planned:
            self.stdout.write(
                f"  {p.room.slug}: {p.count} messages, seq {p.upto} and below ({p.days} days)"
            )
        if dry_run:
            return
        with tqdm(total=total, unit="msg", file=self.stderr._out, disable=None) as bar:
            done = sum(
                retention.purge(planned=p, batch=batch, progress=bar.update).count for p in planned
            )
        self.stdout.write(self.style.SUCCESS(f"Purged {done} messages."))
