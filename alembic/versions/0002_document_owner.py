"""Document.owner: the process that has the document queued or running, so start-up can
recover a dead process's documents at once.

Revision ID: 0002_document_owner
Revises: 0001
Create Date: 2026-12-01

"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders SQLModel's AutoString as sqlmodel.sql.sqltypes)

from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0002_document_owner'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('documents') as batch:
        batch.add_column(sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('documents') as batch:
        batch.drop_column('owner')
