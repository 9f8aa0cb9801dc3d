"""Operators' CLI (`ttadmin`): tokens, projections, rebuilds, dead letters, outbox depth."""
