"""Pure domain: entities, events, validation and rules; no I/O and no web imports."""
