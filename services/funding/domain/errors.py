"""The one domain exception of the funding service: a command refused by a business rule.
Routes map it to problem+json (`status`, `code`); projector guards raise it too, which rolls
the whole command back, so a refusal never leaves anything half-written."""


class Refused(Exception):
    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
