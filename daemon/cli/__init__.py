"""The realworld command line: one module per command, what they share in ``common``, the
parser and the exit status in ``main``."""
