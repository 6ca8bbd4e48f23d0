"""Buildings remember the PLATEAU tile they came from, so a tile import replaces only its tile.

plan_buildings.tile (mesh code, else the file's stem; "" for buildings stored before, which
the next --replace-all or a polygon import replaces), indexed (issue 15: tile-aware import).

Revision ID: 0013_building_tiles
Revises: 0012_resident_plan_fields
Create Date: 2026-12-06 14:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_building_tiles"
down_revision = "0012_resident_plan_fields"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision (both engines; use batch_alter_table to alter tables on SQLite)."""
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("plan_buildings")}
    if "tile" in columns:
        return  # a worker of this release created the table before the upgrade ran
    with op.batch_alter_table("plan_buildings") as batch:
        batch.add_column(sa.Column("tile", sa.String(64), nullable=False, server_default=""))
        batch.create_index("ix_plan_buildings_tile", ["tile"])


def downgrade() -> None:
    """Undo this revision (only reachable through Alembic's API; the CLI never downgrades)."""
    with op.batch_alter_table("plan_buildings") as batch:
        batch.drop_index("ix_plan_buildings_tile")
        batch.drop_column("tile")
