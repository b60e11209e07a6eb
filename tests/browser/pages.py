"""What every browser journey checks on each page it visits.

``snap(page, name)`` writes the page as a desktop (1280 px) and a phone (390 px) screenshot to
``var/screenshots/`` (the issue asks for them; reviewers look at them) and fails when the page
scrolls sideways at 390 px. ``assert_accessible(page)`` runs axe-core (npm ``axe-core``, injected
from node_modules, never a CDN) and fails on any serious or critical violation, naming each rule
and the elements it found.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
AXE_JS = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"1280": (1280, 800), "390": (390, 844)}
BLOCKING_IMPACTS = ("serious", "critical")


def _file_name(name: str, width: str) -> Path:
    safe = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "page"
    return SCREENSHOTS / f"{safe}-{width}.png"


def horizontal_overflow(page) -> int:
    """How many CSS pixels the document is wider than the viewport (0: no sideways scroll)."""
    return page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )


def snap(page, name: str) -> list[Path]:
    """Screenshot the current page at 1280 and 390 px wide (full page), then restore the
    viewport. Fails if the 390 px layout scrolls sideways."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    written = []
    overflow = 0
    try:
        for width, (w, h) in WIDTHS.items():
            page.set_viewport_size({"width": w, "height": h})
            page.wait_for_timeout(50)  # let media queries and charts re-lay out
            path = _file_name(name, width)
            page.screenshot(path=str(path), full_page=True)
            written.append(path)
            if width == "390":
                overflow = horizontal_overflow(page)
    finally:
        if before:
            page.set_viewport_size(before)
    assert overflow <= 1, (
        f"{name}: at 390 px the page is {overflow} px wider than the screen "
        f"(scrolls sideways); see {written[-1]}"
    )
    return written


def axe_violations(page, *, impacts=BLOCKING_IMPACTS) -> list[dict]:
    """axe-core's violations on the current page with an impact in ``impacts``."""
    if not AXE_JS.exists():
        raise RuntimeError(f"{AXE_JS} is missing: run `npm ci` (scripts/bootstrap.sh does)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE_JS.read_text())
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
            }));
        }"""
    )
    return [v for v in result if v["impact"] in impacts]


def assert_accessible(page) -> None:
    """No serious or critical axe-core violation on the current page."""
    found = axe_violations(page)
    assert not found, "accessibility violations:\n" + "\n".join(
        f"- {v['impact']} {v['id']}: {v['help']} at {', '.join(v['nodes'])}" for v in found
    )
