"""workspace_analyzer: the census of files, languages, lines and churn."""
