"""realworld: watch a workspace, run real analyzers on every change, keep every fact."""

__version__ = "0.1.0"
