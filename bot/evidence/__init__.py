"""Kubernetes evidence for an incident: what the cluster looks like when it opens (see service.py)."""
