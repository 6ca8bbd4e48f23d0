"""The 個別避難計画 様式 fields of each resident, kept with the resident.

plan_residents: emergency contact (name, relation, phone), 配慮事項, 持ち出し品, supporters,
作成日, 見直し日 and consent to share the plan with its date (issue 15: the plan sheet). Rows
already there get empty texts and lists, and unknown dates and consent.

Revision ID: 0012_resident_plan_fields
Revises: 0011_plan_alternatives
Create Date: 2026-12-06 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_resident_plan_fields"
down_revision = "0011_plan_alternatives"
branch_labels = None
depends_on = None

_TEXT = (("emergency_name", 100), ("emergency_relation", 50), ("emergency_phone", 50))
_ADDED = (
    "emergency_name",
    "emergency_relation",
    "emergency_phone",
    "considerations",
    "carry_items",
    "supporters",
    "created_on",
    "review_on",
    "plan_consent",
    "plan_consent_on",
)


def upgrade() -> None:
    """Apply this revision (both engines; use batch_alter_table to alter tables on SQLite)."""
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("plan_residents")}
    if "emergency_name" in columns:
        return  # a worker of this release created the table before the upgrade ran
    with op.batch_alter_table("plan_residents") as batch:
        for name, length in _TEXT:
            batch.add_column(sa.Column(name, sa.String(length), nullable=False, server_default=""))
        batch.add_column(sa.Column("considerations", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("carry_items", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("supporters", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("created_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("review_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("plan_consent", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("plan_consent_on", sa.Date(), nullable=True))


def downgrade() -> None:
    """Undo this revision (only reachable through Alembic's API; the CLI never downgrades)."""
    with op.batch_alter_table("plan_residents") as batch:
        for name in reversed(_ADDED):
            batch.drop_column(name)
