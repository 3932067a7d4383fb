"""After-action reports: folds of the event log and the tracks over a time window."""
