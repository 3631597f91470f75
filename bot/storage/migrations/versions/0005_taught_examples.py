"""taught_examples: example staff messages policy owners taught from the questions staff asked

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "taught_examples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("doc_id", sa.String(length=128), nullable=False),
        sa.Column("doc_version", sa.String(length=64), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("taught_on", sa.String(length=64), nullable=False),
        sa.Column("text_enc", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("taught_by", sa.String(length=64), nullable=False),
        sa.Column("taught_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taught_examples")),
        sa.UniqueConstraint("source", name=op.f("uq_taught_examples_source")),
    )
    with op.batch_alter_table("taught_examples", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_taught_examples_doc_id"), ["doc_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("taught_examples", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_taught_examples_doc_id"))
    op.drop_table("taught_examples")
