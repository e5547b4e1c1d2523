"""Watch: what changed in the workspace. Ignore rules; the observer's backend, its handler
and its lifecycle; coalescing raw events into settled changes; snapshots, read from disk
and diffed purely; the watcher that ties them together and its results for the log."""
