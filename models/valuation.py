"""Tables of the valuation area (owned by the VALUATION engineer).

Define SQLModel tables here (XBase / XCreate / X(table=True) / XPublic) and create
them in models/migrations/versions/ with op.create_table in this area's revision.
"""
