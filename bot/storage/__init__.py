"""Persistence for the whole project: the database, encryption keys, migrations and shared repositories."""

from __future__ import annotations

from bot.storage.crypto import Keys, load_keys
from bot.storage.database import Database
from bot.storage.sent import SentReplies, SentReply
from bot.storage.shared import (
    ConversationRefs,
    ConversationTurns,
    FeedbackCounts,
    FeedbackRecord,
    FeedbackRepository,
    ProcessedEvents,
)
from bot.storage.taught import TaughtExamples, TaughtRow

__all__ = [
    "ConversationRefs",
    "ConversationTurns",
    "Database",
    "FeedbackCounts",
    "FeedbackRecord",
    "FeedbackRepository",
    "Keys",
    "ProcessedEvents",
    "SentReplies",
    "SentReply",
    "TaughtExamples",
    "TaughtRow",
    "load_keys",
]
