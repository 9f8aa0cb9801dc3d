"""Projector handlers: projects (placeholder until built)."""
