"""The one refusal type: a command refused by a business rule.

Pure (stdlib only) so every service's `domain/` raises it. The kernel turns it into
application/problem+json (shared/problems.py) with the title the service registered for its
`code`; routes and handlers never catch it.
"""

from __future__ import annotations


class Refused(Exception):
    """`code` is the stable machine-readable reason (e.g. `quota_exhausted`); `status` is 409
    for a rule that refuses what the state allows no more, 422 for input no state could accept,
    403/404 where the rule is about who or what."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
