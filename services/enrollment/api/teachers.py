"""HTTP routes: teachers (placeholder until built)."""

from fastapi import APIRouter

router = APIRouter(tags=["teachers"])
