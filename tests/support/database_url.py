"""The DATABASE_URL of the test database, for tests that run the CLI against it."""

from __future__ import annotations

import sqlalchemy as sa


def database_url_of(engine: sa.Engine) -> str:
    """A DATABASE_URL reaching the test database (on PostgreSQL: the test schema)."""
    url = engine.url
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)
