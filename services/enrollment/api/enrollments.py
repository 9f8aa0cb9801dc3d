"""HTTP routes: enrollments (placeholder until built)."""

from fastapi import APIRouter

router = APIRouter(tags=["enrollments"])
