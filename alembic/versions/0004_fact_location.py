"""Fact location: the page and the box (shares of the page) where a fact's evidence was read.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Facts stored before this have no location: the document view says "location not available".
    with op.batch_alter_table('facts') as batch:
        batch.add_column(sa.Column('page', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('bbox', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('facts') as batch:
        batch.drop_column('bbox')
        batch.drop_column('page')
