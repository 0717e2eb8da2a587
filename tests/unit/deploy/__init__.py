"""Deployment artifacts: Dockerfile, Procfile, Kubernetes manifests, monitoring rules and the Grafana dashboard."""
