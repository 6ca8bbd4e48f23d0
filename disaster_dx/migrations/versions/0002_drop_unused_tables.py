"""Drop the lease tables earlier versions left behind (one ``leases`` table replaced them).

``camera_leases``, ``drill_lease`` and ``line_lease`` held only short-lived leases and no code
has read them since ``disaster_dx.leases`` took over; a database may have any of them or none.

Revision ID: 0002_drop_unused_tables
Revises: 0001_release_0_1
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_drop_unused_tables"
down_revision = "0001_release_0_1"
branch_labels = None
depends_on = None

UNUSED_TABLES = ("camera_leases", "drill_lease", "line_lease")


def upgrade() -> None:
    """Drop whichever of the unused tables exist."""
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name in UNUSED_TABLES:
        if name in existing:
            op.drop_table(name)


def downgrade() -> None:
    """Nothing to restore: the tables held only expired leases that no version reads."""
