"""Replies: outbound SMS parts, the reply audit, job lanes, reply authors.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbound_sms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("to_number", sa.String(length=32), nullable=False),
        sa.Column("from_number", sa.String(length=32), nullable=False),
        sa.Column("twilio_sid", sa.String(length=64), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["message.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "part", name="uq_outbound_sms_part"),
        sa.UniqueConstraint("twilio_sid"),
    )
    with op.batch_alter_table("outbound_sms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbound_sms_message_id"), ["message_id"], unique=False
        )

    op.create_table(
        "reply_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["message.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reply_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reply_audit_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reply_audit_message_id"), ["message_id"], unique=False)

    with op.batch_alter_table("delivery_job", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lane", sa.String(length=10), nullable=False, server_default="slack")
        )
        batch_op.drop_index(batch_op.f("ix_delivery_job_contact_state"))
        batch_op.create_index(
            "ix_delivery_job_contact_state", ["contact_id", "lane", "state"], unique=False
        )

    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("recall_noted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(
            "uq_message_conversation_slack_ts", ["conversation_id", "slack_ts"]
        )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_constraint("uq_message_conversation_slack_ts", type_="unique")
        batch_op.drop_column("recall_noted_at")
        batch_op.drop_column("author")

    with op.batch_alter_table("delivery_job", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_job_contact_state")
        batch_op.create_index(
            batch_op.f("ix_delivery_job_contact_state"), ["contact_id", "state"], unique=False
        )
        batch_op.drop_column("lane")

    with op.batch_alter_table("reply_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reply_audit_message_id"))
        batch_op.drop_index(batch_op.f("ix_reply_audit_contact_id"))

    op.drop_table("reply_audit")
    with op.batch_alter_table("outbound_sms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_sms_message_id"))

    op.drop_table("outbound_sms")
