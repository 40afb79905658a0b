"""Security and privacy: hashed numbers of forgotten contacts, and the erasure log (issue 11).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erased_number",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("consent", sa.String(length=20), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "privacy_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("contact_id", sa.Integer(), sa.ForeignKey("contact.id"), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_privacy_log_contact_id", "privacy_log", ["contact_id"])
    op.create_index("ix_privacy_log_at", "privacy_log", ["at"])
    # Evidence, like the consent ledger and the reply audit: rows are added, never changed.
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER privacy_log_no_{event.lower()} BEFORE {event} ON privacy_log "
                "BEGIN SELECT RAISE(ABORT, 'privacy_log is append-only'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION privacy_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'privacy_log is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER privacy_log_append_only BEFORE UPDATE OR DELETE ON privacy_log "
        "FOR EACH ROW EXECUTE FUNCTION privacy_log_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS privacy_log_no_{event}")
    else:
        op.execute("DROP TRIGGER IF EXISTS privacy_log_append_only ON privacy_log")
        op.execute("DROP FUNCTION IF EXISTS privacy_log_append_only()")
    op.drop_index("ix_privacy_log_at", table_name="privacy_log")
    op.drop_index("ix_privacy_log_contact_id", table_name="privacy_log")
    op.drop_table("privacy_log")
    op.drop_table("erased_number")
