"""Alembic migrations of the store (run by ``Store.migrate``; ``alembic`` CLI works too with -x url=...)."""
