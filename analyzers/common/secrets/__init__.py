"""Secret detection, shared: the security scanner reports what it finds, the code index
masks it before storing a file, and the daemon's logs mask it before writing a line."""
