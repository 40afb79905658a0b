"""Media and delivery status (issue 8): pictures both ways, the status a reply shows.

Revision ID: 0005
Revises: 0004
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
        "media_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("slack_file_id", sa.String(length=32), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "direction", "position", name="uq_media_item_position"),
        sa.UniqueConstraint("token"),
    )
    with op.batch_alter_table("media_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_item_message_id"), ["message_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_media_item_slack_file_id"), ["slack_file_id"], unique=False
        )

    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery_status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("status_shown", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("status_shown")
        batch_op.drop_column("delivery_status")

    with op.batch_alter_table("media_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_item_slack_file_id"))
        batch_op.drop_index(batch_op.f("ix_media_item_message_id"))
    op.drop_table("media_item")
