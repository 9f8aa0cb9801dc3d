"""Every event the credits service publishes (API.md credits), with its current schema version,
and the store they are kept in.

Streams: `policy-<jurisdiction_code>` (PolicyPublished), `award-<entry_id>` (HoursAwarded,
EntryRevoked), `claim-<claim_id>` (HoursClaimed, ClaimApproved | ClaimRejected, EntryRevoked),
`certificate-<certificate_no>` (CertificateIssued), `reminder-<org>-<year>-<teacher_id>`
(TeacherShortOfHours: one reminder per org, school year and teacher; domain/shortfall.py).
Events carry internal ids only.

HoursAwarded is still version 1: `hour_category` and `policy_version`, added with the policy's
category map, are optional to every reader, so earlier awards read (and rebuild) unchanged.
"""

from shared.envelope import EventRegistry
from shared.eventstore import EventStore

registry = EventRegistry()

for _type in ("PolicyPublished", "HoursAwarded", "HoursClaimed", "ClaimApproved", "ClaimRejected", "EntryRevoked",
              "CertificateIssued", "TeacherShortOfHours"):
    registry.register(_type, 1)

# The same source and registry as the app's own store (shared/service.py): handlers load
# aggregates through it, and the intake projection appends awards through it.
store = EventStore("credits", registry)
