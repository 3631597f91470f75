"""sent_replies: which policybot reply a chat message carries, for feedback that names only the message

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 20:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sent_replies",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("reply_id", sa.String(length=64), nullable=False),
        sa.Column("doc_id", sa.String(length=128), nullable=True),
        sa.Column("doc_version", sa.String(length=64), nullable=True),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "message_id", name=op.f("pk_sent_replies")),
    )
    with op.batch_alter_table("sent_replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sent_replies_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sent_replies_reply_id"), ["reply_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sent_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sent_replies_reply_id"))
        batch_op.drop_index(batch_op.f("ix_sent_replies_created_at"))
    op.drop_table("sent_replies")
