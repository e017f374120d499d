"""A hypothesis profile for a long search: `pytest tests/unit --hypothesis-profile=thorough`.

The property tests run hypothesis' default number of examples otherwise, which keeps
the unit suite fast on a shared machine.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("thorough", max_examples=5000, deadline=None)
