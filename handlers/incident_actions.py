"""Incident buttons."""
