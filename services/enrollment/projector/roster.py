"""Projector handlers: roster (placeholder until built)."""
