"""Read models of the enrollment service: tables that answer queries, kept in the command's
transaction (shared/inline.py) and rebuilt from the event store. They never refuse: every
decision was made (domain/) before the events existed. The race-free facts are in guards.py.

Each module owns its tables and reads them for the API. No foreign key crosses two of them
(migration 0004): a rebuild empties one projection's tables at a time.
"""

from __future__ import annotations

from shared.inline import InlineProjection

from .enrollments import ENROLLMENTS
from .orgs import ORGS
from .policies import POLICIES
from .projects import PROJECTS
from .teachers import TEACHERS

READ_MODELS: list[InlineProjection] = [ORGS, TEACHERS, PROJECTS, ENROLLMENTS, POLICIES]

# The roster's personal data, written by the registering command itself (services/enrollment/pii.py):
# events never carry a national ID number or a name, so no replay can restore this table. It is
# the system of record of those fields, not a projection, and no rebuild touches it.
NOT_REBUILT = {"teacher_identities": "the roster's PII system of record; events never carry it (pii.py)"}
