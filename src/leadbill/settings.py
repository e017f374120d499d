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
    # R13, R14: the review window, which eligibility conditions apply, the business
    # days a decision may take, and the operator's country, subdivision (public
    # holidays, `holidays` library codes) and time zone in which they are counted.
    review_window_days: int = 7
    review_require_answered: bool = True
    review_require_recording: bool = True
    review_business_days: int = 3
    operator_country: str = "US"
    operator_subdivision: str | None = None
    operator_time_zone: str = "America/New_York"
    # The operator's name, printed as the seller on invoice and credit note PDFs.
    operator_name: str = "leadbill"
    # Portal sign-in: consecutive failures before a lockout, its length, how long a
    # session lasts, and whether cookies carry Secure (turn off only for local http).
    portal_max_failed_sign_ins: int = 5
    portal_lockout_minutes: int = 15
    portal_session_hours: int = 12
    portal_secure_cookies: bool = True
    # Pin the portal's clock to an instant (RFC 3339), to show a demo's or an audit's
    # past period as if it were now; unset (the default) means the wall clock.
    portal_as_of: str | None = None
    # Mail: the SMTP server the worker sends through (unset, the default: messages are
    # kept in the outbox, readable with `leadbill mail show`), its port, `starttls`,
    # `tls` (implicit, port 465) or `none`, the login, the From address (default: the
    # issuing entity's e-mail) and the portal's public URL for links in messages.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str | None = None
    smtp_password: str | None = None
    mail_from: str | None = None
    # The SMTP passwords of billing entities with their own server, by variable name
    # (LEADBILL_SMTP_PASSWORD_<CODE>, see leadbill.core.smtp_settings.password_variable).
    entity_smtp_passwords: tuple[tuple[str, str], ...] = ()
    portal_url: str = "http://127.0.0.1:8000"
    # Password links by e-mail: how long an invitation's link works (days) and a
    # password reset's (minutes), counted from when the message is sent; how many
    # resets one user may be sent in an hour.
    invitation_days: int = 7
    password_reset_minutes: int = 60
    password_resets_per_hour: int = 3
    # Lead events may be back-dated this many days before their account was created
    # (history brought along when a customer joins); earlier ones are typos.
    event_backdating_days: int = 366
    # The worker's billing run: minutes between runs (0: the worker does not bill).
    billing_interval_minutes: float = 5.0
    # The worker's dunning run: minutes between runs (0: the worker sends no reminders).
    dunning_interval_minutes: float = 60.0

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings from the environment (default: SQLite file in the cwd)."""
        env = os.environ
        return cls(
            database_url=env.get("LEADBILL_DATABASE_URL", "sqlite:///leadbill.db"),
            downgrade_immediate=_flag(env.get("LEADBILL_DOWNGRADE_IMMEDIATE"), False),
            review_window_days=int(env.get("LEADBILL_REVIEW_WINDOW_DAYS", "7")),
            review_require_answered=_flag(env.get("LEADBILL_REVIEW_REQUIRE_ANSWERED"), True),
            review_require_recording=_flag(env.get("LEADBILL_REVIEW_REQUIRE_RECORDING"), True),
            review_business_days=int(env.get("LEADBILL_REVIEW_BUSINESS_DAYS", "3")),
            operator_country=env.get("LEADBILL_OPERATOR_COUNTRY", "US").strip().upper(),
            operator_subdivision=(env.get("LEADBILL_OPERATOR_SUBDIVISION") or "").strip() or None,
            operator_time_zone=env.get("LEADBILL_OPERATOR_TIME_ZONE", "America/New_York").strip(),
            operator_name=(env.get("LEADBILL_OPERATOR_NAME") or "").strip() or "leadbill",
            portal_max_failed_sign_ins=int(env.get("LEADBILL_PORTAL_MAX_FAILED_SIGN_INS", "5")),
            portal_lockout_minutes=int(env.get("LEADBILL_PORTAL_LOCKOUT_MINUTES", "15")),
            portal_session_hours=int(env.get("LEADBILL_PORTAL_SESSION_HOURS", "12")),
            portal_secure_cookies=_flag(env.get("LEADBILL_PORTAL_SECURE_COOKIES"), True),
            portal_as_of=(env.get("LEADBILL_PORTAL_AS_OF") or "").strip() or None,
            smtp_host=(env.get("LEADBILL_SMTP_HOST") or "").strip() or None,
            smtp_port=int(env.get("LEADBILL_SMTP_PORT") or "587"),
            smtp_security=(env.get("LEADBILL_SMTP_SECURITY") or "starttls").strip().lower(),
            smtp_user=(env.get("LEADBILL_SMTP_USER") or "").strip() or None,
            smtp_password=env.get("LEADBILL_SMTP_PASSWORD") or None,
            mail_from=(env.get("LEADBILL_MAIL_FROM") or "").strip() or None,
            entity_smtp_passwords=tuple(
                sorted(
                    (name, value)
                    for name, value in env.items()
                    if name.startswith("LEADBILL_SMTP_PASSWORD_") and value
                )
            ),
            portal_url=(env.get("LEADBILL_PORTAL_URL") or "").strip().rstrip("/")
            or "http://127.0.0.1:8000",
            invitation_days=int(env.get("LEADBILL_INVITATION_DAYS") or "7"),
            password_reset_minutes=int(env.get("LEADBILL_PASSWORD_RESET_MINUTES") or "60"),
            password_resets_per_hour=int(env.get("LEADBILL_PASSWORD_RESETS_PER_HOUR") or "3"),
            event_backdating_days=int(env.get("LEADBILL_EVENT_BACKDATING_DAYS", "366")),
            billing_interval_minutes=float(env.get("LEADBILL_BILLING_INTERVAL_MINUTES") or "5"),
            dunning_interval_minutes=float(env.get("LEADBILL_DUNNING_INTERVAL_MINUTES") or "60"),
        )


def _flag(value: str | None, default: bool) -> bool:
    """A yes/no variable: 1/true/yes/on or 0/false/no/off; unset keeps the default."""
    if value is None or not value.strip():
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}
