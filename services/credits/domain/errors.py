"""The one domain exception: a command refused by a business rule. Routes map it to
problem+json (`status`, `code`, a Chinese + English title from the route's table)."""


class Refused(Exception):
    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
