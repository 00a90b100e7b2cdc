"""`manage.py create_api_token <username> [--name NAME] [--bot]`: a new API token for a
user, printed on the last line (for operators, scripts and tests)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat import services
from chat.errors import ChatError


class Command(BaseCommand):
    help = "Create an API token for a user and print it (shown once: store it safely)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="command line", help="what the token is for")
        parser.add_argument("--bot", action="store_true", help="flag the user as a bot")

    def handle(self, *args: Any, username: str, name: str, bot: bool, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}.")
        if not user.is_active:
            raise CommandError(f"{username} is deactivated: a token of theirs would not work.")
        try:
            if bot:
                services.set_bot(username=username, bot=True)
            row, token = services.create_api_token(user=user, name=name)
        except ChatError as err:
            raise CommandError(err.detail) from err
        kind = "bot " if bot else ""
        self.stderr.write(f"Token {row.prefix}… ({row.name}) for {kind}{username}; shown once:")
        self.stdout.write(token)
