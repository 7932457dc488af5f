"""Shared library for every taskplane service."""
