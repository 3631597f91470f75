"""The database schema (SQLAlchemy Core tables): case tables and the shared tables other edges use.

Free text never has a plain column: ``*_enc`` columns hold Fernet tokens, ``*_hash`` columns keyed hashes.
The Alembic migrations in ``bot/storage/migrations`` create exactly these tables; a test compares the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = [
    "UTCDateTime",
    "case_events",
    "case_recipients",
    "cases",
    "conversation_refs",
    "conversation_turns",
    "feedback",
    "insight_questions",
    "meta",
    "metadata",
    "outbox",
    "processed_events",
    "sent_replies",
    "taught_examples",
    "web_sessions",
    "web_signins_used",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite hands back naive values; we read them as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


meta = Table(
    "policybot_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# --- cases ------------------------------------------------------------------------------------------------
cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference", String(16), nullable=False, unique=True),
    Column("idempotency_hash", String(64), nullable=False, unique=True),
    Column("category", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # open | acknowledged | closed | anonymised
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("acknowledged_at", UTCDateTime),
    Column("ack_due_at", UTCDateTime, index=True),
    Column("closed_at", UTCDateTime, index=True),
    Column("escalation_level", Integer, nullable=False, default=0),
    # Person ids to try next when nobody acknowledges or a notice is undeliverable (never the subject).
    Column("escalation_chain", JSON, nullable=False),
    Column("reporter_hash", String(64), index=True),
    # Keyed hash of the subject's person id: keeps administrators out of cases about themselves.
    Column("subject_hash", String(64)),
    Column("reporter_enc", Text),
    Column("details_enc", Text),
    Column("outcome_enc", Text),
    Column("consent_to_name", Boolean, nullable=False, default=False),
)

case_recipients = Table(
    "case_recipients",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("routed_at", UTCDateTime, nullable=False),
    Column("acknowledged_at", UTCDateTime),
    Column("undeliverable", Boolean, nullable=False, default=False),
    UniqueConstraint("case_id", "person_id", name="uq_case_recipients_case_person"),
)

case_events = Table(
    "case_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    # Non-sensitive facts (a recipient's person id, a channel, an error class).
    Column("data", JSON, nullable=False),
    # Free text (a note, a reason, an outcome), encrypted.
    Column("text_enc", Text),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True),
    # person id, or "reporter" for notices to the person who reported
    Column("recipient", String(64), nullable=False),
    Column("event", String(32), nullable=False),
    # pending | delivered | undeliverable ("failed" only before 0006: it became pending again)
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_until", UTCDateTime),
    Column("claimed_by", String(64)),
    # when the last claim was taken: a later worker looks for a lost send from then on (0006)
    Column("claimed_at", UTCDateTime),
    # when the fast retries ran out (it still retries, slowly; the dashboard counts these) (0006)
    Column("undelivered_since", UTCDateTime),
    Column("last_error", String(200)),
    Column("channel", String(32)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    UniqueConstraint("case_id", "recipient", "event", name="uq_outbox_case_recipient_event"),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

# --- shared tables (Slack, Teams and web edges) --------------------------------------------------------
feedback = Table(
    "feedback",
    metadata,
    Column("reply_id", String(64), primary_key=True),
    Column("user_hash", String(64), primary_key=True),
    Column("helpful", Boolean, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("doc_id", String(128)),
    Column("doc_version", String(64)),
    Column("sections", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False, index=True),
)

conversation_refs = Table(
    "conversation_refs",
    metadata,
    Column("channel", String(16), primary_key=True),
    Column("user_key", String(200), primary_key=True),
    Column("reference", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Which reply a chat message carries (Teams' own feedback buttons name only the message): shared, so a click
# reaching another replica, or arriving after a restart, is still recorded against the reply and its sections.
sent_replies = Table(
    "sent_replies",
    metadata,
    Column("channel", String(16), primary_key=True),
    Column("message_id", String(200), primary_key=True),
    Column("reply_id", String(64), nullable=False, index=True),
    Column("doc_id", String(128)),
    Column("doc_version", String(64)),
    Column("sections", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
)

conversation_turns = Table(
    "conversation_turns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_key", String(200), nullable=False),
    Column("text_enc", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Index("ix_conversation_turns_key", "conversation_key", "id"),
)

# --- web console and dashboard ---------------------------------------------------------------------------
web_sessions = Table(
    "web_sessions",
    metadata,
    # Keyed hash of the cookie's random token: a database leak does not hand out live sessions.
    Column("id_hash", String(64), primary_key=True),
    # Signed in through a one-time link: may open the cases routed to this person.
    Column("person_id", String(64)),
    # Local mode only: who the console acts as ("you are: Sam"); never grants access to cases.
    Column("acting_as", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

web_signins_used = Table(
    "web_signins_used",
    metadata,
    # Keyed hash of a sign-in link's nonce: every replica refuses a link that was used once.
    Column("nonce_hash", String(64), primary_key=True),
    Column("used_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

# --- insights (what staff could not find) ----------------------------------------------------------------
insight_questions = Table(
    "insight_questions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reply_id", String(64), nullable=False, unique=True),
    Column("kind", String(24), nullable=False),  # the reply kind: answer | no_answer | related_document
    Column("channel", String(16), nullable=False),
    # Keyed hash of the asker (counts distinct people per theme); never a user id.
    Column("asker_hash", String(64)),
    # The question, encrypted; cleared after a few days for answers nobody marked not helpful.
    Column("question_enc", Text),
    Column("doc_id", String(128)),
    Column("doc_version", String(64)),
    # [{"doc_id", "section", "version"}] of every citation: the versions the reply was about.
    Column("citations", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
)

# --- examples taught by policy owners (the insights page) -----------------------------------------------------
taught_examples = Table(
    "taught_examples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("doc_id", String(128), nullable=False, index=True),
    # The document version it was taught (or last confirmed) on.
    Column("doc_version", String(64), nullable=False),
    # Section numbers that answer it; [] means the document does not cover it.
    Column("sections", JSON, nullable=False),
    # index.examples.taught_on of the answering sections' bodies (or of the whole document for "not covered").
    Column("taught_on", String(64), nullable=False),
    # The staff question, encrypted.
    Column("text_enc", Text, nullable=False),
    Column("status", String(16), nullable=False),  # active | removed
    Column("taught_by", String(64), nullable=False),  # directory person id
    Column("taught_at", UTCDateTime, nullable=False),
    # The insight question's reply_id it was taught from: each question is taught once (NULLs never clash).
    Column("source", String(64), unique=True),
)
