"""The release, in one place: the package, the CLI's --version and the reports' tool field."""

__version__ = "0.1.0"
