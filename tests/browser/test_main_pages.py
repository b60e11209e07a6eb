"""Every main page, as a visitor and as a signed-in player, on the seeded demo: screenshots at
1280 and 390 px (no sideways scrolling on a phone) and no serious or critical accessibility
violation (axe-core). The journeys check what each page does; this checks how each one reads."""

import pytest
from django.core.management import call_command

from agents.models import Agent
from tests.browser.pages import assert_accessible, snap

pytestmark = pytest.mark.browser

VISITOR_PAGES = [
    ("home", "/"),
    ("spaces", "/spaces/"),
    ("space-arithmetic", "/spaces/arithmetic/"),
    ("space-haiku", "/spaces/haiku/"),
    ("login", "/accounts/login/"),
    ("register", "/accounts/register/"),
    ("api-docs", "/api/docs/"),
]
PLAYER_PAGES = [
    ("player-home", "/"),
    ("player-agents", "/agents/"),
    ("player-agent-new", "/agents/new/"),
    ("player-balance", "/wallet/"),
    ("player-space", "/spaces/capitals/"),
]


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", verbosity=0)


def sign_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-demo-pass")
    page.click("form.form button[type=submit]")
    page.wait_for_selector("[data-testid=username]")


def test_the_public_pages_read_well_on_desktop_and_phone(demo, page):
    for name, url in VISITOR_PAGES:
        response = page.goto(url)
        assert response.status == 200, f"{url}: {response.status}"
        if name == "api-docs":
            page.wait_for_selector(".swagger-ui .info", timeout=20_000)  # drawn from sidecar files
            # Swagger UI's own markup (third-party, from drf-spectacular-sidecar) has contrast
            # and nested-control findings we cannot fix from here; the check is that it loads
            # offline and reads on a phone. axe runs on every page of ours.
            snap(page, name)
            continue
        snap(page, name)
        assert_accessible(page)


def test_a_players_pages_read_well_on_desktop_and_phone(demo, page):
    sign_in(page, "player")
    agent = Agent.objects.filter(owner__username="player").first()
    pages = [*PLAYER_PAGES, ("player-agent", f"/agents/{agent.pk}/")]
    for name, url in pages:
        response = page.goto(url)
        assert response.status == 200, f"{url}: {response.status}"
        snap(page, name)
        assert_accessible(page)
