"""Issue 16: a service serves the committed JSON Schema of each event it publishes at the URL its
envelopes name in `dataschema`, and the AsyncAPI document; not another service's schemas."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx

from shared.envelope import Envelope
from shared.eventschemas import ASYNCAPI_FILE, SCHEMA_DIR


async def test_credits_serves_its_event_schemas_and_the_asyncapi_document(credits_app, cpool):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=credits_app), base_url="http://credits") as c:
        row = await cpool.fetchrow("SELECT * FROM events ORDER BY position DESC LIMIT 1")
        if row is not None:  # an envelope credits recorded names a schema credits serves
            url = Envelope(row["event_id"], "/credits", row["type"], row["stream_id"], row["recorded_at"], {},
                           row["schema_version"]).to_cloudevent()["dataschema"]
            assert url.startswith(credits_app.state.settings.credits_public_url + "/")  # absolute, on credits' origin
            assert (await c.get(urlsplit(url).path)).status_code == 200
        r = await c.get("/v1/events/schemas/credits/hours_awarded.v2.json")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/schema+json")
        assert r.json() == json.loads((SCHEMA_DIR / "credits" / "hours_awarded.v2.json").read_text(encoding="utf-8"))
        assert (await c.get("/v1/events/schemas/credits/hours_awarded.v1.json")).status_code == 200
        for missing in ("/v1/events/schemas/enrollment/teacher_nominated.v1.json",  # enrollment's to serve
                        "/v1/events/schemas/credits/hours_awarded.v9.json",
                        "/v1/events/schemas/credits/..%2F..%2Fpyproject.toml"):
            assert (await c.get(missing)).status_code == 404, missing
        doc = await c.get("/v1/asyncapi.json")
        assert doc.status_code == 200 and doc.json() == json.loads(ASYNCAPI_FILE.read_text(encoding="utf-8"))
        assert doc.json()["asyncapi"] == "3.0.0"
