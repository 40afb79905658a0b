"""Consent: the ledger's detail, actor and cause, append-only; autoresponder cooldown.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The consent ledger and the reply audit are evidence: rows are added, never changed.
_APPEND_ONLY = ("consent_change", "reply_audit")


def upgrade() -> None:
    with op.batch_alter_table("consent_change", schema=None) as batch_op:
        batch_op.add_column(sa.Column("detail", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("actor", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("cause", sa.String(length=200), nullable=True))

    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("autoresponded_at", sa.DateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("delivery_job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consent_change_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_delivery_job_consent_change", "consent_change", ["consent_change_id"], ["id"]
        )

    for table in _APPEND_ONLY:
        _forbid_changes(table)


def downgrade() -> None:
    for table in _APPEND_ONLY:
        _allow_changes(table)
    with op.batch_alter_table("delivery_job", schema=None) as batch_op:
        batch_op.drop_constraint("fk_delivery_job_consent_change", type_="foreignkey")
        batch_op.drop_column("consent_change_id")

    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_column("autoresponded_at")

    with op.batch_alter_table("consent_change", schema=None) as batch_op:
        batch_op.drop_column("cause")
        batch_op.drop_column("actor")
        batch_op.drop_column("detail")


def _forbid_changes(table: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
        return
    op.execute(
        f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
    )


def _allow_changes(table: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}")
        return
    op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
