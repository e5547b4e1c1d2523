"""Read: everything that reads the projections. Their queries, the user's own SQL, the analysis
of a session and its renderings."""
