"""The delivery engine: pacing shared through the database, backlog status (issue 9).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_delivery_job_heads", "delivery_job", ["state", "contact_id", "lane", "id"])
    op.create_table(
        "channel_pace",
        sa.Column("key", sa.String(length=40), primary_key=True),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.Column("ready_at", sa.Float(), nullable=False),
        sa.Column("paused_until", sa.Float(), nullable=True),
    )
    op.create_table(
        "backlog_status",
        sa.Column("channel", sa.String(length=32), primary_key=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("peak", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_index("ix_delivery_job_heads", table_name="delivery_job")
    op.drop_table("backlog_status")
    op.drop_table("channel_pace")
