"""Headless Chromium (Debian's package) driven by Playwright, against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from coordinator.reports.browser import CHROMIUM_FLAGS, chromium_path
from tests.conftest import Api, Server, cli

# The product's own Chromium settings (report PDFs), plus two that quiet a test browser further.
TEST_FLAGS = [*CHROMIUM_FLAGS, "--disable-quic", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium_path(), args=TEST_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page_errors() -> list[str]:
    return []


def new_page(browser: Browser, errors: list[str], **kwargs: object) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, **kwargs)  # type: ignore[arg-type]
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    return page


def sign_in(page: Page, server: Server, name: str, password: str) -> None:
    page.goto(f"{server.url}/login")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#conn.live", timeout=15_000)


@pytest.fixture
def operator_login(data_dir: Path, server: Server) -> tuple[str, str]:
    result = cli(
        data_dir,
        "user",
        "add",
        "dispatcher",
        "--role",
        "operator",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert result.returncode == 0, result.stderr
    return "dispatcher", "correct horse battery"


@pytest.fixture
def e2e_api(server: Server, operator_token: str) -> Api:
    return Api(server.url, operator_token)
