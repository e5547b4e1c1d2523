"""Watch: what changed in the workspace. Ignore rules, coalescing raw events into settled
changes, snapshots and their diff, the watchdog adapter."""
