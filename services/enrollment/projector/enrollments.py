"""Projector handlers: enrollments (placeholder until built)."""
