"""HTTP routes: orgs (placeholder until built)."""

from fastapi import APIRouter

router = APIRouter(tags=["orgs"])
