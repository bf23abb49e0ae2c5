import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("DFD_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts"))
# scripts/test installs axe-core from the npm registry here (never into static/: it is a test tool).
AXE_JS = Path(os.environ.get("DFD_AXE_JS", REPO_ROOT / "var" / "npm" / "node_modules" / "axe-core" / "axe.min.js"))
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
VIEWPORTS = {
    "desktop": {"width": 1280, "height": 860}, "phone": {"width": 390, "height": 844},
    # The narrowest phone and a wide monitor: the ends of what every page must fit without scrolling sideways.
    "narrow": {"width": 320, "height": 640}, "wide": {"width": 1920, "height": 1080},
}

# A CSP violation is reported to the console too, but only as a warning for some kinds (report-only,
# images in some Chromium versions): make every one an error the watcher sees.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + e.blockedURI);
});
"""


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(executable):
        pytest.fail("Chromium is not installed: run `make test`, which installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class PageProblems:
    """What went wrong on a page while a test used it: console errors (CSP violations among them)
    and failed requests. Tests that expect an error status say so with `expect_status`."""

    def __init__(self, page):
        self.problems: list[str] = []
        self.expected: dict[str, int] = {}
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def expect_status(self, path: str, status: int) -> None:
        self.expected[path] = status

    def _console(self, message):
        # A response with an error status is reported by _response, with its URL.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console: {message.text}")

    def _request_failed(self, request):
        # Leaving a page or seeking the player aborts what is still loading: no fault of the page.
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response):
        from urllib.parse import urlsplit

        if response.status >= 400 and self.expected.get(urlsplit(response.url).path) != response.status:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def take(self) -> list[str]:
        problems, self.problems = self.problems, []
        return problems


def _new_page(browser, live_server, *, viewport="desktop", color_scheme="light", user=None):
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORTS[viewport], color_scheme=color_scheme)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    if user is not None:
        from django.conf import settings
        from django.test import Client

        client = Client()
        client.force_login(user)
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": live_server.url,
                              "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.problems = PageProblems(page)
    return page


@pytest.fixture
def page(browser, live_server):
    page = _new_page(browser, live_server)
    yield page
    page.context.close()
    # Every page must work under its Content-Security-Policy, with no error and no failed request.
    assert not page.problems.take()


@pytest.fixture
def open_page(browser, live_server):
    """open_page(viewport="desktop"|"phone"|"narrow"|"wide", color_scheme="light"|"dark", user=None): a new page in a
    context of its own, signed in as `user` when given. Each fails the test on console errors
    and failed requests when it closes."""
    pages = []

    def open_(**options):
        pages.append(_new_page(browser, live_server, **options))
        return pages[-1]

    yield open_
    problems = []
    for page in pages:
        problems += page.problems.take()
        page.context.close()
    assert not problems


def sideways_scroll(page) -> int:
    """How many pixels the page scrolls sideways (0 when it does not)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def widest_elements(page) -> list[str]:
    """The elements that stick out on the right, to say what makes a page scroll sideways."""
    return page.evaluate("""() => Array.from(document.querySelectorAll("body *"))
      .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
      .slice(0, 5).map(el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
        (el.classList.length ? "." + Array.from(el.classList).join(".") : ""))""")


def axe_violations(page) -> list[str]:
    """Serious and critical accessibility violations on the page, by axe-core."""
    if not AXE_JS.is_file():
        pytest.fail(f"axe-core is missing ({AXE_JS}): run scripts/test, which installs it from the npm registry")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text())  # evaluated by the browser's devtools protocol: no CSP exception needed
    violations = page.evaluate("""async () => {
      const result = await axe.run(document, {resultTypes: ["violations"]});
      return result.violations.filter(v => v.impact === "serious" || v.impact === "critical")
        .map(v => v.id + " (" + v.impact + "): " + v.help + " at " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
    }""")
    return violations


@pytest.fixture
def screenshot(page):
    def take(name: str, target=None) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        (target or page).screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def finished_analysis(alice, detector, face_video_bytes):
    """An analysis of alice's, run to the end in this process (no worker): real thumbnails, heat
    maps and video."""
    from detection import services
    from tests.helpers import upload

    analysis = services.analysis_create(owner=alice, file=upload(face_video_bytes, "interview.mp4"), frames=10)
    return services.analysis_run(analysis_id=analysis.id)


@pytest.fixture
def make_analysis(alice, detector, face_video_bytes):
    """make_analysis(**fields): a row of alice's in the given state whose video is really stored
    (the result page plays it), without running anything."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from tests.factories import AnalysisFactory

    def make(**fields):
        analysis = AnalysisFactory.build(**{"owner": alice, "detector": detector, **fields})
        analysis.video.name = default_storage.save(analysis.video.name, ContentFile(face_video_bytes))
        analysis.save()
        return analysis

    return make
