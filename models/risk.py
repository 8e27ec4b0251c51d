"""Tables of the risk area (owned by the RISK engineer).

Define SQLModel tables here (XBase / XCreate / X(table=True) / XPublic) and create
them in models/migrations/versions/ with op.create_table in this area's revision.
"""
