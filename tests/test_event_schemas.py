"""Issue 16: typed event data. Every registered event type has a model at its current version,
the registry refuses data that does not fit it, the committed JSON Schemas and AsyncAPI document
are what the models generate (`make event-schemas`), and the AsyncAPI document is valid AsyncAPI
3.0.0 by the AsyncAPI initiative's own JSON Schema (@asyncapi/specs, installed by
`make asyncapi-spec`), not by our code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from scripts.event_schemas import REGISTRIES, stale
from shared.bus import BusNames
from shared.envelope import InvalidEventData, data_schema_url, set_schema_origins, wire_type
from shared.eventschemas import ASYNCAPI_FILE, SCHEMA_DIR, schema_file, schema_path
from shared.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
ASYNCAPI_SPEC = ROOT / ".venv" / "share" / "asyncapi-specs" / "3.0.0.json"


def test_every_registered_type_has_a_model_at_its_current_version():
    missing = [f"{s} {t} v{r.current_version(t)}" for s, r in REGISTRIES.items() for t in r.types
               if r.model(t, r.current_version(t)) is None]
    assert not missing
    assert sum(len(r.types) for r in REGISTRIES.values()) >= 44


def test_the_committed_schemas_and_asyncapi_are_what_the_models_generate():
    assert stale() == [], "run `make event-schemas` and commit docs/events/ and docs/asyncapi.json"


@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.rglob("*.json")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_committed_schema_is_a_json_schema_named_by_its_dataschema_url(path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    service = path.parent.name
    assert schema["$id"] == f"/v1/events/schemas/{service}/{path.name}"
    type_, version = schema["title"].split(" v")
    assert schema_file(type_, int(version)) == path.name
    assert schema["x-event-type"] == wire_type("/" + service, type_, int(version))


def test_the_registry_refuses_data_that_does_not_fit_and_keeps_what_fits_as_it_is():
    reg = REGISTRIES["enrollment"]
    good = {"project_id": "p1", "region_code": "360102", "places": 3}
    event = reg.new("QuotaAllocated", good)
    assert event.data is good and event.schema_version == 1  # the dict itself: nothing re-serialised
    for bad, why in [({**good, "places": "3"}, "places"), ({"project_id": "p1", "places": 3}, "region_code"),
                     ({**good, "note": "x"}, "note"), ({**good, "places": True}, "places")]:
        with pytest.raises(InvalidEventData, match=why):
            reg.new("QuotaAllocated", bad)
    with pytest.raises(InvalidEventData, match="modules.0.hours"):
        reg.version_for("ProjectDrafted", {
            "project_id": "p", "code": "c", "name": "n", "level": "national", "category": "c", "year": 2024,
            "host_id": None, "organizer_code": "360000", "hours": 30, "starts_on": "2024-07-01",
            "ends_on": "2024-07-10", "practical_ratio": 0.5, "modules": [{"name": "m", "hours": "ten"}]})


def test_dataschema_names_the_served_file_of_the_type_and_version():
    assert schema_path("credits", "HoursAwarded", 2) == "/v1/events/schemas/credits/hours_awarded.v2.json"
    assert (SCHEMA_DIR / "credits" / "hours_awarded.v1.json").is_file()  # the old version stays published


def test_dataschema_is_an_absolute_url_on_the_owners_public_origin():
    """CloudEvents types `dataschema` as an absolute URI: strict readers (the Rust SDK's `Url`, the .NET
    SDK's absolute `Uri`) refuse a bare path, which is what envelopes carried before. Each owner's
    origin comes from the settings, a path prefix kept, and the AsyncAPI document admits exactly that."""
    doc = json.loads(ASYNCAPI_FILE.read_text(encoding="utf-8"))
    published = doc["components"]["messages"]["credits.HoursAwarded"]["payload"]["allOf"][1]["properties"]
    settings = Settings(credits_public_url="https://px.example.gov.cn/credits/", funding_public_url="http://f:8003")
    try:
        set_schema_origins(settings.public_urls())
        url = data_schema_url("/credits", "HoursAwarded", 2)
        assert url == "https://px.example.gov.cn/credits/v1/events/schemas/credits/hours_awarded.v2.json"
        assert data_schema_url("/funding", "FundsAllocated", 1).startswith("http://f:8003/v1/events/schemas/funding/")
        jsonschema.validate(url, published["dataschema"])
        jsonschema.validate(url, doc["components"]["schemas"]["CloudEvent"]["properties"]["dataschema"],
                            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        for wrong in ("/v1/events/schemas/credits/hours_awarded.v2.json",  # the old, relative form
                      "https://px.example.gov.cn/v1/events/schemas/credits/hours_awarded.v1.json"):  # another version
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate(wrong, published["dataschema"])
    finally:
        set_schema_origins(Settings().public_urls())
    for relative in ("/credits", "credits.example.org", "ftp://credits.example.org", "https://c.example.org/?x=1"):
        with pytest.raises(ValueError, match="absolute http"):
            Settings(credits_public_url=relative)


def test_asyncapi_is_valid_asyncapi_3_by_the_asyncapi_initiatives_schema():
    if not ASYNCAPI_SPEC.is_file():
        pytest.fail("the AsyncAPI 3.0.0 JSON Schema is not installed: run `make asyncapi-spec`")
    spec = json.loads(ASYNCAPI_SPEC.read_text(encoding="utf-8"))
    doc = json.loads(ASYNCAPI_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(spec)
    errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(doc)]
    assert errors == []
    # …and the validator does judge: a broken operation is caught.
    broken = json.loads(json.dumps(doc))
    next(iter(broken["operations"].values()))["action"] = "publish"  # AsyncAPI 2's verb, not 3's
    assert any(True for _ in validator.iter_errors(broken))


def test_asyncapi_has_a_channel_per_published_type_on_its_nats_subject():
    doc = json.loads(ASYNCAPI_FILE.read_text(encoding="utf-8"))
    names = BusNames()
    for service, registry in REGISTRIES.items():
        for type_ in registry.types:
            channel = doc["channels"][f"{service}.{type_}"]
            assert channel["address"] == names.subject(service, "{category}", type_)
            message = doc["components"]["messages"][f"{service}.{type_}"]
            version = registry.current_version(type_)
            envelope = message["payload"]["allOf"][1]["properties"]
            assert envelope["type"]["const"] == wire_type("/" + service, type_, version)
            assert re.fullmatch(envelope["dataschema"]["pattern"], data_schema_url("/" + service, type_, version))
            data = doc["components"]["schemas"][envelope["data"]["$ref"].rsplit("/", 1)[1]]
            model = registry.model(type_, version)
            assert model is not None and set(data["properties"]) == set(model.model_fields)
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', ASYNCAPI_FILE.read_text(encoding="utf-8"))
    assert set(refs) <= set(doc["components"]["schemas"])  # every reference resolves


def test_every_producer_path_goes_through_the_gate():
    """A command's unit of work (one stream, many streams at once) and a reaction's new_events refuse
    a decision that does not fit before anything is queued."""
    from shared.envelope import Metadata
    from shared.inline import new_events
    from shared.unit_of_work import UnitOfWork

    reg = REGISTRIES["credits"]
    bad = [("ClaimRejected", {"claim_id": "c", "teacher_id": "t", "reason": "no", "rejected_on": 20240101})]
    uow = UnitOfWork(None, reg, Metadata(), None, None)  # nothing here touches the connection
    with pytest.raises(InvalidEventData, match="rejected_on"):
        uow.record("claim-c", 1, bad)
    with pytest.raises(InvalidEventData, match="rejected_on"):
        uow.record_many([("claim-c", 1, bad)])
    assert uow.pending == 0
    with pytest.raises(InvalidEventData, match="rejected_on"):
        new_events(reg, bad)
