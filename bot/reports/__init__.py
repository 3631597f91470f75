"""Private reports: cases, routing, outbox delivery, acknowledgement, escalation, retention.

Edges call ``open_reports(settings)`` once and then ``reports.service`` (a ``CaseService``); channel notifiers
plug in with ``reports.notifiers.register(...)``.
"""

from __future__ import annotations

from bot.reports.app import Reports, open_reports
from bot.reports.directory import Directory, Person
from bot.reports.directory_file import load_directory
from bot.reports.model import (
    CaseStatus,
    CaseSummary,
    CaseView,
    Category,
    ChronologyEntry,
    EventKind,
    Receipt,
    Reporter,
    ReportStatus,
    Submission,
)
from bot.reports.notify import (
    Address,
    Delivery,
    DeliveryStatus,
    Notice,
    NoticeEvent,
    Notifier,
    NotifierRegistry,
)
from bot.reports.service import NOT_SAVED, CaseService

__all__ = [
    "NOT_SAVED",
    "Address",
    "CaseService",
    "CaseStatus",
    "CaseSummary",
    "CaseView",
    "Category",
    "ChronologyEntry",
    "Delivery",
    "DeliveryStatus",
    "Directory",
    "EventKind",
    "Notice",
    "NoticeEvent",
    "Notifier",
    "NotifierRegistry",
    "Person",
    "Receipt",
    "ReportStatus",
    "Reporter",
    "Reports",
    "Submission",
    "load_directory",
    "open_reports",
]
