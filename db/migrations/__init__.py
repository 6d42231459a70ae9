"""Alembic migrations of the read model (run through db.migrate.upgrade_to_head)."""
