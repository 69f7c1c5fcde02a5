"""SQL through SQLAlchemy: SQLite embedded, PostgreSQL (pg8000) or Cloud SQL in production."""
