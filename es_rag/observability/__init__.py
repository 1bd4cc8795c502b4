"""Traces (OpenTelemetry) and metrics (Prometheus) of searches and answers."""
