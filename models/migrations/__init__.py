"""Alembic migrations (run with `datafin db upgrade` or models.db.upgrade)."""
