"""Each plan's alternative destination at another site, kept with its result.

plan_results.alt_destination_id and alt_length_m (issue 15: door-to-door choice).

Revision ID: 0011_plan_alternatives
Revises: 0010_refusal_counts
Create Date: 2026-12-06 14:16:48.092209
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_plan_alternatives"
down_revision = "0010_refusal_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision (both engines; use batch_alter_table to alter tables on SQLite)."""
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("plan_results")}
    if "alt_destination_id" in columns:
        return  # a worker of this release created the table before the upgrade ran
    with op.batch_alter_table("plan_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alt_destination_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("alt_length_m", sa.Float(), nullable=True))


def downgrade() -> None:
    """Undo this revision (only reachable through Alembic's API; the CLI never downgrades)."""
    with op.batch_alter_table("plan_results", schema=None) as batch_op:
        batch_op.drop_column("alt_length_m")
        batch_op.drop_column("alt_destination_id")
