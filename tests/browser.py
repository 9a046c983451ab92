"""A real browser for the tests: Debian's chromium driven by Playwright, never a
browser that Playwright downloads (`playwright install` does not work here)."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# Every Content-Security-Policy violation, in the page or in a shadow root, reaches the console.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", e => console.error(
  "Content Security Policy violation: " + e.effectiveDirective + " " + e.blockedURI), true);
"""


def _axe_source() -> str:
    path = os.environ.get("WEBINAR_ARCHIVE_AXE_JS")
    if not path or not Path(path).exists():
        pytest.fail("axe-core is missing: run the tests with scripts/test (it fetches it)")
    return Path(path).read_text()


@contextmanager
def browser_context(profile: Path, width: int = 1280, height: int = 1000) -> Iterator[BrowserContext]:
    """Debian's chromium with a fresh profile, as a Playwright context."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test does)")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height}, accept_downloads=True,
        )
        try:
            yield context
        finally:
            context.close()


@contextmanager
def browser_page(profile: Path, width: int = 1280, height: int = 1000, axe: bool = False) -> Iterator[Page]:
    """A page in a fresh profile; leaving the block fails if any page broke the CSP.
    With `axe`, axe-core is in every document (injected by the browser itself, as an
    init script, so the pages' CSP stays as strict as it is)."""
    violations: list[str] = []
    with browser_context(profile, width, height) as context:
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        if axe:
            context.add_init_script(_axe_source())
        page = context.new_page()
        page.on("console", lambda m: violations.append(m.text)
                if "Content Security Policy" in m.text else None)
        yield page
    assert violations == []


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA findings on the page as it is now, of these impacts
    (the page must come from `browser_page(..., axe=True)`; scripts/test fetches axe-core
    and says where, in WEBINAR_ARCHIVE_AXE_JS)."""
    result = page.evaluate("""() => axe.run(document, {runOnly: {type: "tag",
        values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})""")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in impacts]
