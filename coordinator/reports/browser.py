"""Headless Chromium for printing reports to PDF.

Playwright drives the system's Chromium (its own browser download is not used),
so the PDF looks exactly like the HTML a reader opens.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# Quiet, offline Chromium: no sandbox (containers), no GPU, no background traffic.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
_FOOTER = (
    '<div style="width:100%;font:8px Arial,sans-serif;color:#666;padding:0 13mm;display:flex;'
    'justify-content:space-between"><span>{label}</span>'
    '<span>Page <span class="pageNumber"></span> of <span class="totalPages"></span></span></div>'
)


def chromium_path(override: str | None = None) -> str:
    """The argument, else $CHROMIUM, else `chromium` or `chromium-browser` on PATH."""
    path = (
        override or os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not path:
        raise RuntimeError("Chromium was not found: pass chromium=... or set CHROMIUM to its path")
    return path


@contextmanager
def open_browser(chromium: str | None = None) -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # only the PDF writers need it
        raise RuntimeError("PDF output needs the 'playwright' package") from exc
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(chromium), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Browser) -> Page:
    # Twice the pixels, so screenshots swapped into the PDF stay sharp when printed.
    context = browser.new_context(viewport={"width": 1100, "height": 900}, device_scale_factor=2)
    return context.new_page()


def print_pdf(page: Page, path: Path, *, footer: str = "") -> Path:
    """Print with the page's own @page size and margins, and page numbers at the foot."""
    from coordinator.reports.fmt import esc

    page.pdf(
        path=str(path),
        prefer_css_page_size=True,
        print_background=True,
        display_header_footer=True,
        header_template="<span></span>",
        footer_template=_FOOTER.format(label=esc(footer)),
    )
    return path
