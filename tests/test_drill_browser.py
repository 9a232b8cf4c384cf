"""The console's pages in a real headless Chromium (Debian's `chromium`, driven by Playwright):
the board, a team's page and the debrief, served by a real `lab drill serve`, fed through
the real API. Screenshots are checked, not just saved: page text, SVG elements, scores, and
that the PNG is not blank."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import httpx
import pytest

from tests.drill_fixtures import BLUE_STEPS, RED_STEPS, free_server, journal_entries, make_drill, report, stop

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium); "
                                                          "CI installs it in .ci/run")


def assert_not_blank(png: bytes, where: str) -> None:
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.width >= 800 and img.height >= 400, where
    colours = img.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 20, f"{where}: screenshot has {len(colours or [])} colours (blank?)"
    small = img.resize((64, 64))
    dark = sum(1 for px in small.getdata() if sum(px) < 300)
    assert dark > 20, f"{where}: screenshot has almost no dark pixels (no text drawn?)"


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    home = tmp_path_factory.mktemp("drill") / "home"
    tokens = make_drill(home)
    proc, url = free_server(home, home.parent / "serve.log")
    tmp = home.parent
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            for team, steps in (("red", RED_STEPS), ("blue", BLUE_STEPS)):
                entries = journal_entries(tmp / f"{team}.jsonl", steps)
                h = {"Authorization": f"Bearer {tokens[team]}"}
                assert http.post(f"/api/teams/{team}/journal", json={"from_seq": 0, "entries": entries},
                                 headers=h).status_code == 200
            h = {"Authorization": f"Bearer {tokens['red']}"}
            assert http.post("/api/teams/red/hints", json={}, headers=h).status_code == 200
            assert http.post("/api/teams/red/report", json={"report": report(72.5), "evidence_digest": "sha256:" + "e" * 64},
                             headers=h).status_code == 200
            assert http.post("/api/teams/blue/report", json={"report": report(41.0), "evidence_digest": "sha256:" + "f" * 64},
                             headers={"Authorization": f"Bearer {tokens['blue']}"}).status_code == 200
        yield url, tokens, tmp
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def open_as(browser, url: str, token: str, shot: Path):
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    response = page.goto(f"{url}/login?token={token}")
    assert response is not None and response.ok
    png = page.screenshot(path=str(shot), full_page=True)
    return page, png


def test_board_in_chromium(console, browser):
    url, tokens, tmp = console
    page, png = open_as(browser, url, tokens["facilitator"], tmp / "board.png")
    assert page.url.endswith("/board")
    text = page.inner_text("body")
    assert "red" in text and "blue" in text and "Board" in text
    assert "72.5 / 100" in text and "41.0 / 100" in text  # the scores table and the score chart
    assert page.locator("svg.timeline").count() == 1 and page.locator("svg.scores").count() == 1
    assert page.locator("svg.timeline g.team-row").count() == 2
    assert page.locator("svg.timeline circle.action").count() == 4  # red: config, shadow, rollback; blue: promote
    assert page.locator("svg.timeline .alert").count() == 2
    assert page.locator("svg.scores g.score-bar").count() == 2
    # the CSS loaded under the CSP (the header bar is dark), and nothing was refused
    assert page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") == "rgb(31, 41, 55)"
    assert_not_blank(png, "board")
    # the inject button posts the form and the command shows on the board
    page.select_option("select[name=event]", "bad-release")
    page.click("text=Inject in every lab")
    assert page.url.endswith("/board") and "#1 inject bad-release" in page.inner_text("ol.commands")


def test_team_page_in_chromium(console, browser):
    url, tokens, tmp = console
    page, png = open_as(browser, url, tokens["red"], tmp / "team-red.png")
    assert page.url.endswith("/team/red")
    text = page.inner_text("body")
    assert "Team red" in text and "72.5 / 100" in text and "reference window" in text  # its hint
    assert "41.0" not in text and "blue" not in text  # nothing of the other team
    assert page.locator("svg.timeline g.team-row").count() == 1
    assert_not_blank(png, "team page")
    assert page.goto(f"{url}/team/blue").status == 403
    assert page.goto(f"{url}/debrief").status == 403


def test_debrief_in_chromium(console, browser):
    url, tokens, tmp = console
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    page.goto(f"{url}/login?token={tokens['facilitator']}")
    assert page.goto(f"{url}/debrief").status == 409
    ended = httpx.post(f"{url}/api/commands", json={"kind": "end"},
                       headers={"Authorization": f"Bearer {tokens['facilitator']}"}, timeout=30)
    assert ended.status_code == 200
    assert page.goto(f"{url}/debrief").status == 200
    png = page.screenshot(path=str(tmp / "debrief.png"), full_page=True)
    text = page.inner_text("body")
    assert "The answer key" in text and "pool-shift" in text and "bad release v3" in text
    assert "1.00 days" in text and "not detected" in text  # red detected a day after onset; blue never
    assert page.locator("svg.timeline g.truth").count() >= 2
    assert page.locator("svg.scores g.score-bar").count() == 2
    assert_not_blank(png, "debrief")
