"""SQLite storage through sqlite-utils: schema, migrations and queries. Amounts are integer paisa."""

from khalti_cli.store.db import Store, open_store

__all__ = ["Store", "open_store"]
