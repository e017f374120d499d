"""The one error the pure core raises: an input that breaks a rule."""


class RuleViolation(ValueError):
    """An input violates a billing rule; names the field and the problem."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
