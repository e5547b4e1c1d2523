"""Projections: read models derived from the log, caught up exactly once, replayed and
verified."""
