"""outbox.claimed_at and outbox.undelivered_since: effectively-once delivery and nothing silently undelivered

A later worker looks for a send lost with a killed worker from ``claimed_at`` on; ``undelivered_since`` marks a
notice whose fast retries ran out (it keeps retrying slowly and is counted on the dashboard). Notices that
earlier versions marked "failed" for good are made pending again, as undelivered.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("undelivered_since", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE outbox SET status = 'pending', undelivered_since = next_attempt_at, claimed_until = NULL "
        "WHERE status = 'failed'"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE outbox SET status = 'failed' WHERE status = 'pending' AND undelivered_since IS NOT NULL"
    )
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("undelivered_since")
        batch.drop_column("claimed_at")
