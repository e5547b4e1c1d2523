"""The analyzers: one sub-package per capability, the protocol they implement (base) and the
registry that finds them (entry-point group ``realworld.analyzers``). They know nothing of
the daemon that runs them."""
