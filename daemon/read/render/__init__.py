"""Renderers of loaded data (text, markdown, JSON, HTML, SARIF, the console); they never run
SQL."""
