"""Fast acknowledgements: verified webhooks stored raw before the ack (issue 9).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_intake",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(length=140), nullable=False, unique=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("order_key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
    )
    op.create_index("ix_webhook_intake_order", "webhook_intake", ["order_key", "id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_intake_order", table_name="webhook_intake")
    op.drop_table("webhook_intake")
