"""The site's own settings, for benchmark runs, with one policy switched off: the per-user
message rate limit (a burst of 10, then 1 message/s), because the burst scenario is one
sender posting hundreds of messages as fast as it can. Everything else, the write path
included, is exactly what a deployment runs."""

from chatsite.settings import *  # noqa: F403

CHAT_RATE_LIMIT_PER_SECOND = 0
