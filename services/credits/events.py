"""Every event the credits service publishes (API.md credits), with its current schema version,
and the store they are kept in.

Streams: `policy-<jurisdiction_code>` (PolicyPublished), `award-<entry_id>` (HoursAwarded,
EntryRevoked), `claim-<claim_id>` (HoursClaimed, ClaimApproved | ClaimRejected, EntryRevoked),
`certificate-<certificate_no>` (CertificateIssued), `reminder-<org>-<year>-<teacher_id>`
(TeacherShortOfHours: one reminder per org, school year and teacher; domain/shortfall.py).
Events carry internal ids only.

Each type's data is modelled in event_models.py, per version; the registry refuses data that does
not fit. `hour_category` and `policy_version` of HoursAwarded, added with the policy's category map,
are optional to every reader, so earlier awards read (and rebuild) unchanged.

HoursAwarded is version 2 (issue 16): the completion source's `year` is `project_year`, the
project's year (项目年度), never to be confused with the entry's `school_year`. Stored v1 events stay
as they are on disk; the store upcasts them on load (`_hours_awarded_v2` below), so every reader
here sees v2. Consumers elsewhere read the published schemas of both versions.
"""

from typing import Any

from shared.envelope import EventRegistry
from shared.eventstore import EventStore

from .event_models import MODELS

registry = EventRegistry()

for (_type, _version), _model in sorted(MODELS.items()):
    registry.register(_type, _version, model=_model)


@registry.upcaster("HoursAwarded", 1)
def _hours_awarded_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 → v2: source.year → source.project_year (a claim's source has no year: unchanged)."""
    source = data.get("source")
    if not isinstance(source, dict) or "year" not in source:
        return data
    renamed = {("project_year" if k == "year" else k): v for k, v in source.items()}
    return {**data, "source": renamed}

# The same source and registry as the app's own store (shared/service.py): handlers load
# aggregates through it, and the intake projection appends awards through it.
store = EventStore("credits", registry)
