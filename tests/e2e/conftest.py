"""Fixtures of the end-to-end tests: the notifier's real parts (webhook receivers, mailpit)."""

from tests.notify_kit import counter, mailpit, mailpit_server, receivers

__all__ = ["counter", "mailpit", "mailpit_server", "receivers"]
