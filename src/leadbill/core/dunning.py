"""Dunning: the reminder schedule of an unpaid invoice and which step is due on a date.

A schedule is a list of steps, each a whole number of days after the invoice's due
date (0: on the due date). Each step is sent at most once per invoice. On a given
local date the step to send is the latest step whose date has come, provided no
later step was sent already: a step missed while nothing ran is sent late, once,
and an invoice that became due long before dunning started gets only the latest
step that is due, not every earlier one at once. After the last step an optional
final action applies, the day after the last step's date (and never on the day the
last reminder was queued, so that reminder goes out first).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from leadbill.core.errors import RuleViolation

DEFAULT_STEPS: tuple[int, ...] = (0, 3, 7, 14)
MAX_STEPS = 10
MAX_STEP_DAYS = 365
NO_ACTION = "none"
MARK_UNCOLLECTIBLE = "uncollectible"
PAUSE_SERVICE = "pause_service"
ACTIONS: tuple[str, ...] = (NO_ACTION, MARK_UNCOLLECTIBLE, PAUSE_SERVICE)
DEFAULT_TERMS_DAYS = 15


def check_steps(steps: Sequence[int], field: str = "dunning_steps") -> tuple[int, ...]:
    """The steps in order: 1 to 10 distinct whole days from 0 to 365."""
    if not steps:
        raise RuleViolation(field, "needs at least one step (days after the due date)")
    if len(steps) > MAX_STEPS:
        raise RuleViolation(field, f"has {len(steps)} steps; at most {MAX_STEPS}")
    for step in steps:
        if isinstance(step, bool) or not isinstance(step, int):
            raise RuleViolation(field, f"{step!r} is not a whole number of days")
        if not 0 <= step <= MAX_STEP_DAYS:
            raise RuleViolation(field, f"{step} is not a whole number of days from 0 to 365")
    if len(set(steps)) != len(steps):
        repeated = sorted({step for step in steps if list(steps).count(step) > 1})
        raise RuleViolation(field, f"repeats {', '.join(map(str, repeated))}; steps are distinct")
    return tuple(sorted(steps))


def parse_steps(text: str, field: str = "dunning_steps") -> tuple[int, ...]:
    """Steps written as a comma-separated list of days, such as `0,3,7,14`."""
    parts = [part.strip() for part in text.split(",")]
    if len(text) > 60:
        raise RuleViolation(field, "is at most 60 characters, such as 0,3,7,14")
    steps = []
    for part in parts:
        if not part.isdigit() or not part.isascii():
            raise RuleViolation(field, f"{part!r} is not a whole number of days; write 0,3,7,14")
        steps.append(int(part))
    return check_steps(steps, field)


def steps_text(steps: Sequence[int]) -> str:
    """Steps as they are stored and written: `0,3,7,14`."""
    return ",".join(str(step) for step in steps)


def check_action(action: str, field: str = "dunning_action") -> str:
    """The final action after the last step: none, uncollectible or pause_service."""
    if action not in ACTIONS:
        raise RuleViolation(field, f"{action!r} is not one of {', '.join(ACTIONS)}")
    return action


def reference_date(due_on: date | None, issue_date: date, terms_days: int) -> date:
    """The date the schedule counts from: the due date, else the issue date plus the terms."""
    return due_on if due_on is not None else issue_date + timedelta(days=terms_days)


def days_overdue(due: date, today: date) -> int:
    """Days after the due date on the local date `today` (0 on or before it)."""
    return max(0, (today - due).days)


def step_to_send(steps: Sequence[int], due: date, today: date, sent: Collection[int]) -> int | None:
    """The step to send on `today`: the latest one whose date has come, unless it (or a
    later one) was already sent; None when nothing is due."""
    came = [step for step in steps if due + timedelta(days=step) <= today]
    if not came:
        return None
    latest = max(came)
    if sent and max(sent) >= latest:
        return None
    return latest


def action_date(steps: Sequence[int], due: date) -> date:
    """The day the final action applies: the day after the last step's date."""
    return due + timedelta(days=max(steps) + 1)


def action_is_due(
    steps: Sequence[int], due: date, today: date, sent: Collection[int], last_sent_on: date | None
) -> bool:
    """Whether the final action applies on `today`: the last step was sent on an earlier
    day and the action's date has come."""
    if not sent or max(sent) < max(steps) or last_sent_on is None:
        return False
    return today >= action_date(steps, due) and today > last_sent_on


@dataclass(frozen=True, slots=True)
class NextStep:
    """What dunning does next for an invoice: a reminder step (days after the due date)
    or the final action, and on which local date."""

    step: int | None  # None: the final action
    on: date
    action: str | None = None


def next_step(
    steps: Sequence[int],
    action: str,
    due: date,
    today: date,
    sent: Collection[int],
    last_sent_on: date | None,
    action_taken: bool,
) -> NextStep | None:
    """The next thing dunning will do for an invoice as of `today`; None: nothing more."""
    now = step_to_send(steps, due, today, sent)
    if now is not None:
        return NextStep(now, today)
    after = max(sent) if sent else -1
    for step in steps:
        if step > after:
            return NextStep(step, due + timedelta(days=step))
    if action == NO_ACTION or action_taken:
        return None
    on = action_date(steps, due)
    if last_sent_on is not None and on <= last_sent_on:
        on = last_sent_on + timedelta(days=1)
    return NextStep(None, max(on, today), action)
