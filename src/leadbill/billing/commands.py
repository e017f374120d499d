"""Billing commands: `leadbill bill`, `invoices`, `payments`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Mount the billing commands on the main app."""
