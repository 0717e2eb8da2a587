"""Persistent state: SQLAlchemy models, Alembic migrations and small repository functions."""
