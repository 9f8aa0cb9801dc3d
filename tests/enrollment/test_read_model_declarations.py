"""The projects read model's SQLModel declaration (services/enrollment/projector/models.py) is the
table the migrations create: the same columns, the same nullability, the same key — so the public
schema built from it describes what is stored, and a migration that drifts from it fails here."""

from __future__ import annotations

from services.enrollment.projector.models import Project, ProjectPublic

TYPES = {"uuid": "UUID", "text": "TEXT", "integer": "INTEGER", "numeric": "NUMERIC", "date": "DATE",
         "boolean": "BOOLEAN", "jsonb": "JSONB"}


async def test_the_declared_projects_table_is_the_migrated_one(epool):
    rows = await epool.fetch("""SELECT column_name, data_type, is_nullable = 'YES' AS nullable
                                FROM information_schema.columns WHERE table_name = 'projects'""")
    migrated = {r["column_name"]: (TYPES[r["data_type"]], r["nullable"]) for r in rows}
    declared = {c.name: (type(c.type).__name__.upper().replace("AUTOSTRING", "TEXT").replace("UUID", "UUID"),
                         bool(c.nullable)) for c in Project.__table__.columns}
    assert declared == migrated
    key = await epool.fetchval("""SELECT a.attname FROM pg_index i
                                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                                  WHERE i.indrelid = 'projects'::regclass AND i.indisprimary""")
    assert [c.name for c in Project.__table__.primary_key] == [key]


def test_the_public_schema_shows_only_stored_fields():
    assert set(ProjectPublic.model_fields) <= {c.name for c in Project.__table__.columns}
