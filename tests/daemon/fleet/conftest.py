"""The fleet's tests run against a real PostgreSQL server the tests start themselves."""

from postgres_server import fleet_url, postgres_server

__all__ = ["fleet_url", "postgres_server"]
