"""Read models of the credits service, none of which ever refuses anything:

- inline (shared/inline.py), kept in the transaction that records our own events, so the owner
  reads its own writes: policies (policies.py), ledger entries and claims (ledger.py),
  certificates (certificates.py). The rebuild command replays our event store through them;
- kernel consumers: IntakeProjection (org tree, teachers' schools, from enrollment's stream;
  intake.py) and ComplianceProjection (teacher_years, from our own stream; compliance.py).
"""

from __future__ import annotations

from shared.inline import InlineProjection

from .certificates import CERTIFICATES
from .ledger import LEDGER
from .policies import POLICIES

INLINE: list[InlineProjection] = [POLICIES, LEDGER, CERTIFICATES]
