"""Renderers of loaded data (text, markdown, JSON, HTML, SARIF, the console, the regression
check); they never run SQL."""
