"""The inbox: unread, claim, resolve, reminders, history (issue 6).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _when(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "inbox_entry",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("last_text_id", sa.Integer(), nullable=True),
        _when("last_text_at"),
        sa.Column("unread", sa.Boolean(), nullable=False),
        _when("waiting_since"),
        _when("reminded_for"),
        _when("bumped_for"),
        sa.Column("bump_message_id", sa.Integer(), nullable=True),
        sa.Column("claimed_by", sa.String(length=32), nullable=True),
        _when("claimed_at"),
        sa.Column("resolved_by", sa.String(length=32), nullable=True),
        _when("resolved_at"),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        _when("first_text_at"),
        _when("first_response_at"),
        sa.Column("permalink", sa.String(length=300), nullable=True),
        sa.Column("history_note", sa.String(length=200), nullable=True),
        sa.Column("history_due", sa.Boolean(), nullable=False),
        _when("updated_at", nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"]),
        sa.ForeignKeyConstraint(["last_text_id"], ["message.id"]),
        sa.ForeignKeyConstraint(["bump_message_id"], ["message.id"]),
        sa.ForeignKeyConstraint(["previous_id"], ["conversation.id"]),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    with op.batch_alter_table("inbox_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbox_entry_contact_id"), ["contact_id"])
        batch_op.create_index(batch_op.f("ix_inbox_entry_last_text_at"), ["last_text_at"])
        batch_op.create_index(batch_op.f("ix_inbox_entry_updated_at"), ["updated_at"])

    op.create_table(
        "inbox_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=100), nullable=True),
        _when("at", nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("inbox_action", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbox_action_conversation_id"), ["conversation_id"])

    op.create_table(
        "home_viewer",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        _when("opened_at", nullable=False),
        _when("published_at"),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("home_viewer")
    with op.batch_alter_table("inbox_action", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_action_conversation_id"))
    op.drop_table("inbox_action")
    with op.batch_alter_table("inbox_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_entry_updated_at"))
        batch_op.drop_index(batch_op.f("ix_inbox_entry_last_text_at"))
        batch_op.drop_index(batch_op.f("ix_inbox_entry_contact_id"))
    op.drop_table("inbox_entry")
