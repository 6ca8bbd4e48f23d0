"""Buildings keep their PLATEAU usage code, for the buildings export checked in QGIS.

plan_buildings.usage (bldg:usage, e.g. 411 住宅; NULL where the source has none — every
building stored before this revision, until its tile is imported again). Each hazard's 浸水ランク
is kept in the existing depths JSON (issue 15: export-buildings).

Revision ID: 0014_building_usage
Revises: 0013_building_tiles
Create Date: 2026-12-06 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_building_usage"
down_revision = "0013_building_tiles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision (both engines; use batch_alter_table to alter tables on SQLite)."""
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("plan_buildings")}
    if "usage" in columns:
        return  # a worker of this release created the table before the upgrade ran
    with op.batch_alter_table("plan_buildings") as batch:
        batch.add_column(sa.Column("usage", sa.String(16), nullable=True))


def downgrade() -> None:
    """Undo this revision (only reachable through Alembic's API; the CLI never downgrades)."""
    with op.batch_alter_table("plan_buildings") as batch:
        batch.drop_column("usage")
