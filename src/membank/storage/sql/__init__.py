"""The system of record on SQLite (embedded default) and PostgreSQL: one implementation over SQLAlchemy Core."""
