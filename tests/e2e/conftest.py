"""Headless Chromium (Debian's package) driven by Playwright, against a real server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import Api, Server, cli

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("Chromium is not installed; the README's test command installs it")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
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
