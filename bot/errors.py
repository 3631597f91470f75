"""The bot's error tree. Edges catch these and answer with a fixed, friendly message.

    PolicybotError
    ├── ConfigError            settings or directory file invalid (message names the entry and the fix)
    ├── InputError             the user's input is invalid; ``field`` names what to fix
    │   └── TooLong            over a documented length limit
    ├── NotFound               a case, person or document that does not exist (never says whether it is hidden)
    ├── NotAuthorised          the actor may not see or change this
    ├── StorageUnavailable     the database cannot be reached; nothing was saved
    └── KeyMismatch            the encryption key cannot decrypt stored data (loud startup error)

Messages never contain report text, message text or secrets: they are shown to users and written to logs.
Index and corpus errors live in ``index.errors`` (the index package never imports bot).
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "InputError",
    "KeyMismatch",
    "NotAuthorised",
    "NotFound",
    "PolicybotError",
    "StorageUnavailable",
    "TooLong",
]


class PolicybotError(Exception):
    """Base of every error policybot raises on purpose; its message is safe to show and to log."""


class ConfigError(PolicybotError):
    """Configuration is invalid. The message says what is wrong and how to fix it."""


class InputError(PolicybotError):
    """User input failed validation; ``field`` names the input so forms can show the error beside it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TooLong(InputError):
    """Input exceeds a documented limit; the message states the limit."""


class NotFound(PolicybotError):
    """The thing asked for does not exist, or the actor may not know whether it does."""


class NotAuthorised(PolicybotError):
    """The actor is not allowed to do this."""


class StorageUnavailable(PolicybotError):
    """The database could not be reached or refused the write; nothing was saved."""


class KeyMismatch(PolicybotError):
    """Stored data cannot be decrypted with the configured key."""
