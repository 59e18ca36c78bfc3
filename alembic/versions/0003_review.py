"""Review: facts get a review status and provenance; patients an optional date of birth and MRN;
indexes for the staff dashboard and the review queue.

Revision ID: 0003
Revises: 0002_document_owner
Create Date: 2026-12-01

"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401

from alembic import op

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002_document_owner'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing facts were all found by the pipeline: the server defaults fill them in.
    with op.batch_alter_table('facts') as batch:
        batch.add_column(sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                   server_default='extracted'))
        batch.add_column(sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                   server_default='extracted'))
        batch.add_column(sa.Column('reviewed_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch.add_column(sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('previous', sa.JSON(), nullable=True))
        batch.create_index('ix_facts_status_confidence', ['status', 'confidence'], unique=False)
    with op.batch_alter_table('patients') as batch:
        batch.add_column(sa.Column('date_of_birth', sa.Date(), nullable=True))
        batch.add_column(sa.Column('mrn', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch.create_index(op.f('ix_patients_mrn'), ['mrn'], unique=False)
    op.create_index('ix_documents_updated', 'documents', ['updated_at'], unique=False)
    op.create_index('ix_requirement_matches_state_updated', 'requirement_matches', ['state', 'updated_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_requirement_matches_state_updated', table_name='requirement_matches')
    op.drop_index('ix_documents_updated', table_name='documents')
    with op.batch_alter_table('patients') as batch:
        batch.drop_index(op.f('ix_patients_mrn'))
        batch.drop_column('mrn')
        batch.drop_column('date_of_birth')
    with op.batch_alter_table('facts') as batch:
        batch.drop_index('ix_facts_status_confidence')
        batch.drop_column('previous')
        batch.drop_column('reviewed_at')
        batch.drop_column('reviewed_by')
        batch.drop_column('origin')
        batch.drop_column('status')
