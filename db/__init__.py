"""The read model: SQLAlchemy tables, migrations, repositories and demo data.

Entry points: `db.session.Database` (engine + sessions), `db.migrate.upgrade_to_head(url)`,
`db.repositories.*` (async functions taking an AsyncSession) and `db.seed.seed_demo_data`.
"""
