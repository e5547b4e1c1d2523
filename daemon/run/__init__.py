"""Run: the analyzers on each settled change, each call bounded, measured and recorded;
recovery from failures, resource samples and the safety rules."""
