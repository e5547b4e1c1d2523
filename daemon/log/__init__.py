"""Log: the append-only event log. Event types, the hash chain, the SQLite store and its one
writer, the schema."""
