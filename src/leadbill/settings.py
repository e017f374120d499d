"""One settings object, read from environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """Process-wide settings; every field comes from a `LEADBILL_*` variable."""

    database_url: str
    # R7: a downgrade takes effect at the period end unless this is set (1/true/yes).
    downgrade_immediate: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings from the environment (default: SQLite file in the cwd)."""
        return cls(
            database_url=os.environ.get("LEADBILL_DATABASE_URL", "sqlite:///leadbill.db"),
            downgrade_immediate=os.environ.get("LEADBILL_DOWNGRADE_IMMEDIATE", "").strip().lower()
            in {"1", "true", "yes", "on"},
        )
