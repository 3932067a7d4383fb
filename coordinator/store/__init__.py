"""Adapters that keep the event log and position telemetry."""
