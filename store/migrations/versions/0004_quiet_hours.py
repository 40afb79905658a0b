"""Quiet hours: held replies and the time zone an agent sets (issue 5).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("send_now_by", sa.String(length=32), nullable=True))
    with op.batch_alter_table("delivery_job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "timezone_change",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contact.id"), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("previous", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_timezone_change_contact_id", "timezone_change", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_timezone_change_contact_id", table_name="timezone_change")
    op.drop_table("timezone_change")
    with op.batch_alter_table("delivery_job", schema=None) as batch_op:
        batch_op.drop_column("held_until")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("send_now_by")
        batch_op.drop_column("held_until")
