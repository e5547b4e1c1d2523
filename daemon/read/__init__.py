"""Read: everything that reads the projections. Queries, history, the analysis of a session and
its renderings."""
