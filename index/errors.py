"""Errors raised by the index package: corpus problems and index problems.

    IndexPackageError
    ├── CorpusError          a corpus file cannot be read or parsed (names the file and line)
    └── IndexUnavailable     no usable index on disk
        ├── IndexMissing     never built
        └── IndexCorrupt     files present but unreadable or inconsistent

The bot package maps these onto its own friendly messages; nothing here knows about chat.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CorpusError", "IndexCorrupt", "IndexMissing", "IndexPackageError", "IndexUnavailable"]


class IndexPackageError(Exception):
    """Base of every error the index package raises on purpose."""


class CorpusError(IndexPackageError):
    """A corpus file is malformed. Carries the file and (when known) the 1-based line."""

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {message}")


class IndexUnavailable(IndexPackageError):
    """There is no index that can serve queries."""


class IndexMissing(IndexUnavailable):
    """The index was never built in this state directory."""


class IndexCorrupt(IndexUnavailable):
    """The index files exist but cannot be loaded or disagree with their manifest."""
