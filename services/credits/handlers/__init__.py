"""One module per credits command (DESIGN.md "Inside a service"): load the facts → the pure
`decide` of domain/ → `uow.record(...)` → a Reply. Routes (api/) parse, authorize what needs no
facts, and `cmd.run` one of these; the kernel (shared/unit_of_work.py) replays Idempotency-Keys,
projects the recorded events inline and appends them, last, in the same transaction.

Races: every stream is appended at the version its state was loaded at, so two commands on one
claim, entry or policy cannot both pass — the second gets 409 (or 412 with If-Match). The one
rule across streams, one certificate per teacher and period, takes a lock (issue_certificate.py).
`award.py` is the reaction the intake projection runs, not an HTTP command.
"""
