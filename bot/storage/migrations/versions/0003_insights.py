"""insights: unanswered and not-helpful questions, pseudonymised

Revision ID: 0003
Revises: 0001 (the integrator re-chains it after 0002)
Create Date: 2026-11-26 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insight_questions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reply_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("asker_hash", sa.String(length=64), nullable=True),
        sa.Column("question_enc", sa.Text(), nullable=True),
        sa.Column("doc_id", sa.String(length=128), nullable=True),
        sa.Column("doc_version", sa.String(length=64), nullable=True),
        sa.Column("citations", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insight_questions")),
        sa.UniqueConstraint("reply_id", name=op.f("uq_insight_questions_reply_id")),
    )
    with op.batch_alter_table("insight_questions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_insight_questions_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("insight_questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insight_questions_created_at"))
    op.drop_table("insight_questions")
