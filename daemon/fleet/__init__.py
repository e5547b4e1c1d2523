"""The fleet: every machine's log shipped exactly once to a central PostgreSQL, and the same
pure projections applied there per machine.

``connection`` is the one adapter to PostgreSQL (psycopg 3); ``central_schema`` creates and
migrates the central tables; ``shipper`` forwards a local log; ``applier`` projects the
central log per machine; ``central_verify`` proves it; ``replica`` copies central rows into a
scratch SQLite so every local read command serves the fleet unchanged.
"""
