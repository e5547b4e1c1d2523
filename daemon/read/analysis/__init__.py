"""The analysis of a session, pure functions over loaded rows: aggregates, issue and suggestion
rules, the events they plan, the API dict, scores, grades, statistics, regressions, gates."""
