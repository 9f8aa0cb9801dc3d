"""Every event the credits service publishes (API.md credits), with its current schema version.

Streams: `policy-<jurisdiction_code>` (PolicyPublished), `award-<entry_id>` (HoursAwarded,
EntryRevoked), `claim-<claim_id>` (HoursClaimed, ClaimApproved | ClaimRejected, EntryRevoked),
`certificate-<certificate_no>` (CertificateIssued). Events carry internal ids only.
"""

from shared.envelope import EventRegistry

registry = EventRegistry()

for _type in ("PolicyPublished", "HoursAwarded", "HoursClaimed", "ClaimApproved", "ClaimRejected", "EntryRevoked",
              "CertificateIssued"):
    registry.register(_type, 1)
