"""What the analyzers share: walking the workspace, reading source files, parsing, caches, the
worker pool, paths, percentiles, secret detection."""
