"""``Problem``: one thing wrong with configuration, with its fix. Shared by the directory loader, the corpus
checks and ``policybot config check``, which is why it sits with the shared vocabulary and not in any of them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Problem"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with configuration: which entry, what, and how to fix it."""

    entry: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.entry}: {self.message}" + (f" ({self.fix})" if self.fix else "")
