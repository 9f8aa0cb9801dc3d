"""HTTP routes: projects (placeholder until built)."""

from fastapi import APIRouter

router = APIRouter(tags=["projects"])
