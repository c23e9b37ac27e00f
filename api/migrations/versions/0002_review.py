"""需复核: flags on records to review, the numbers of merged records, who entered each demand.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('demand_alias',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('demand_id', sa.Integer(), nullable=False),
    sa.Column('county_code', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['demand_id'], ['demand.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('county_code', 'ref', name='uq_demand_alias')
    )
    op.create_index(op.f('ix_demand_alias_demand_id'), 'demand_alias', ['demand_id'], unique=False)
    op.create_table('demand_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('demand_id', sa.Integer(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created', sa.Boolean(), nullable=False),
    sa.Column('at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['demand_id'], ['demand.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_demand_entry_demand_id'), 'demand_entry', ['demand_id'], unique=False)
    op.create_table('organization_alias',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('credit_code', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('credit_code')
    )
    op.create_index(op.f('ix_organization_alias_organization_id'), 'organization_alias', ['organization_id'], unique=False)
    op.create_table('review_flag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('demand_id', sa.Integer(), nullable=True),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('other_demand_id', sa.Integer(), nullable=True),
    sa.Column('other_organization_id', sa.Integer(), nullable=True),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('other', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('city_code', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=True),
    sa.Column('county_code', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('decision', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('decided_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['demand_id'], ['demand.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['other_demand_id'], ['demand.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['other_organization_id'], ['organization.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', name='uq_review_flag_key')
    )
    op.create_index(op.f('ix_review_flag_city_code'), 'review_flag', ['city_code'], unique=False)
    op.create_index(op.f('ix_review_flag_county_code'), 'review_flag', ['county_code'], unique=False)
    op.create_index(op.f('ix_review_flag_demand_id'), 'review_flag', ['demand_id'], unique=False)
    op.create_index(op.f('ix_review_flag_kind'), 'review_flag', ['kind'], unique=False)
    op.create_index(op.f('ix_review_flag_organization_id'), 'review_flag', ['organization_id'], unique=False)
    op.create_index(op.f('ix_review_flag_status'), 'review_flag', ['status'], unique=False)


def downgrade() -> None:
    raise NotImplementedError("降级不受支持：请从升级前的备份恢复（duijie restore）")
