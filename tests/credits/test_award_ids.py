"""The award's deterministic ids are uuid5 of the completion's event id, whichever way they are
computed: a different id would award every completion again on the next rebuild."""

from __future__ import annotations

import uuid

from services.credits.projector.intake import AWARD_ENTRY_NS, AWARD_EVENT_NS, award_ids
from shared.envelope import parse_uuid


def test_award_ids_are_the_stdlib_uuid5_of_the_completion_id() -> None:
    for _ in range(500):
        completion = uuid.uuid4()
        event_id, entry_id = award_ids(completion)
        assert event_id == uuid.uuid5(AWARD_EVENT_NS, str(completion))
        assert entry_id == uuid.uuid5(AWARD_ENTRY_NS, str(completion))
        assert str(event_id) == str(uuid.uuid5(AWARD_EVENT_NS, str(completion)))
        assert hash(entry_id) == hash(uuid.UUID(str(entry_id))) and entry_id.version == 5
        # The completion's id as a consumer parses it gives the same ids.
        assert award_ids(parse_uuid(str(completion).upper())) == (event_id, entry_id)
