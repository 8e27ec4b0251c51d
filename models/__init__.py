"""Persistence: SQLModel tables, sessions, repositories and migrations."""
