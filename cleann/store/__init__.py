"""DuckDB store: connection + migrations, frame inserts, idempotent ingest, read-only SQL."""
