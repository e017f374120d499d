"""The portal in headless Chromium against a real server on a real database.

The server is the app `leadbill serve` runs (`leadbill.api.create_app`), served
by uvicorn in a thread on a free loopback port, on the test database (SQLite,
then PostgreSQL). The browser is Debian's Chromium at /usr/bin/chromium, driven
by Playwright; no browser is ever downloaded. Without Chromium the tests are
skipped locally and fail under CI=true. Screenshots of each page visited go to
test-output/screenshots/.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from leadbill.api import create_app
from leadbill.settings import Settings
from tests.portal.world import AS_OF, PortalWorld, build_world

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


def _require_chromium() -> None:
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed"
    if problem:
        if IN_CI:
            pytest.fail(f"browser tests need Chromium: {problem}")
        pytest.skip(f"browser tests need Chromium: {problem}")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the session (per test worker)."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # Running as root (CI) needs --no-sandbox; /dev/shm is small in containers.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield chromium
        chromium.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> PortalWorld:
    """Two accounts with leads and one user per role."""
    return build_world(sessions)


@pytest.fixture
def clock() -> list[datetime]:
    """The portal's clock (AS_OF unless a test moves it)."""
    return [AS_OF]


@pytest.fixture
def server(
    sessions: sessionmaker[Session], database_url: str, clock: list[datetime]
) -> Iterator[str]:
    """The API and portal served by uvicorn on a free loopback port; yields its base URL."""
    import uvicorn

    app = create_app(sessions)
    app.state.portal_clock = lambda: clock[0]
    # Plain http on loopback: a Secure cookie would not come back.
    app.state.portal_settings = Settings(database_url=database_url, portal_secure_cookies=False)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the portal server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


class Shots:
    """Writes a screenshot per page under test-output/screenshots/<test>/."""

    def __init__(self, name: str) -> None:
        self.folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def take(self, page: object, label: str) -> Path:
        """Save a full-page screenshot of `page` as NN-label.png."""
        self.count += 1
        path = self.folder / f"{self.count:02d}-{label}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    """Screenshots of this test."""
    return Shots(request.node.name)


@pytest.fixture
def context(browser: object) -> Iterator[object]:
    """A fresh browser profile (no cookies) per test."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    yield ctx
    ctx.close()
