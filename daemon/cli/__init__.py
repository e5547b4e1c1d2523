"""The realworld command line: one module per command."""
