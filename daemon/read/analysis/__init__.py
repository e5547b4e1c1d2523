"""The analysis of a session, pure functions over loaded rows: aggregates, issue and suggestion
rules, scores, grades, statistics, regressions, gates."""
