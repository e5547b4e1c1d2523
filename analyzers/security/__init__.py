"""security_scanner: bandit's rules and secret detection, in worker processes, with
fingerprints, redaction and a baseline."""
