"""The application: a session wiring watch, run and log together, and the RealWorldTester API
over sessions."""
