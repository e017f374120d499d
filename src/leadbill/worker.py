"""Background work outside requests: `leadbill worker` delivers the webhook outbox.

The delivery itself lives in `leadbill.webhooks.delivery`; this module is the
process's entry point, so that scheduled jobs can join it later.
"""

from __future__ import annotations

from leadbill.webhooks.commands import worker

__all__ = ["worker"]
