"""Test helpers shared by every app: a real PostgreSQL server and pytest fixtures."""
