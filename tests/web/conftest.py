"""Browser tests: Python playwright drives Debian's chromium against a live test server whose OpenAI
(and Azure) calls go to the local fake provider. Every response the page receives is collected, so a
test can prove no saved secret ever came back."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from groups.models import User
from tests.fake_provider import FakeProvider

CHROMIUM = os.environ.get("BYOK_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

pytestmark = pytest.mark.real_http


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"chromium is not installed at {CHROMIUM}; .ci/run installs it with apt.")
        pytest.skip(f"chromium is not installed at {CHROMIUM} (apt-get install chromium) to run browser tests.")
    # Playwright's sync API runs an event loop in this thread; the test's own database calls are
    # synchronous all the same, so Django's guard against async contexts is lifted for these tests.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def fake(settings: Any) -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        settings.BYOK_BASE_URL_OVERRIDES = {"openai": provider.url + "/v1"}
        # Azure's endpoint is the user's URL: the fake on 127.0.0.1 over http must pass the SSRF guard.
        settings.BYOK_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
        settings.BYOK_ALLOW_INSECURE_URLS = True
        yield provider


@dataclass
class Session:
    """A signed-in browser page, with every response body it received and every script error."""

    page: Any
    base: str
    bodies: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def goto(self, path: str = "/byok-interface.html") -> None:
        self.page.goto(self.base + path)

    def seen(self) -> str:
        """Everything the browser was sent, plus the page's DOM now."""
        return "\n".join([*self.bodies, self.page.content()])


@pytest.fixture
def sign_in(browser: Any, live_server: Any, fake: FakeProvider) -> Iterator[Callable[..., Session]]:
    contexts: list[Any] = []

    def _sign_in(user: User, password: str | None = None, *, viewport: dict[str, int] | None = None) -> Session:
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        session = Session(page=page, base=live_server.url)

        def collect(response: Any) -> None:
            try:
                session.bodies.append(response.text())
            except Exception:  # redirects and aborted requests have no body
                session.bodies.append(" ".join(f"{k}: {v}" for k, v in response.headers.items()))

        page.on("response", collect)
        page.on("request", lambda request: session.urls.append(request.url))
        page.on("pageerror", lambda error: session.errors.append(str(error)))
        # Script errors fail a test; a 4xx the page asked for and handled (e.g. resolve answering "no key"
        # for a provider) is logged by the browser as a failed resource load and is not one.
        page.on(
            "console",
            lambda msg: (
                session.errors.append(msg.text)
                if msg.type == "error" and not msg.text.startswith("Failed to load resource")
                else None
            ),
        )
        page.on("dialog", lambda dialog: dialog.accept())
        session.goto("/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password or "pw-" + user.username)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/byok-interface.html")
        page.locator("#key-provider").wait_for()
        return session

    yield _sign_in
    for context in contexts:
        context.close()


def screenshot(session: Session, name: str) -> None:
    """A full-page picture in var/screenshots/ (not committed) once the providers grid has settled."""
    session.page.locator("#providers-grid .serving", has_text="checking").first.wait_for(state="detached")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    session.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
