"""Persistence: SQLModel tables, sessions, repositories and migrations.

Importing :mod:`models` registers every table on ``SQLModel.metadata`` (which
Alembic's ``env.py`` and the test fixtures rely on). ``models.db`` comes first
because it sets the metadata's constraint naming convention.
"""

# isort: off
from models import db  # noqa: F401  (naming convention before any table)
from models import audit, registry, security  # noqa: F401
from models import credit, products, risk, valuation  # noqa: F401
from models import jobs  # noqa: F401

# isort: on
