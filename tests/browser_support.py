"""Shared pieces of the browser tests: Debian's chromium through Playwright, a local web server, and
a recorder of what a page asked the network for and what it logged."""

import functools
import http.server
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser")


def chromium_path() -> str:
    """Debian's chromium, or a skip that says how to install it."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed: run `make install` as root (autograder/install-browser.sh "
                "installs Debian's chromium), or deselect these tests with -m 'not browser'")


@functools.cache
def _playwright():
    from playwright.sync_api import sync_playwright

    return sync_playwright().start()


def launch_chromium():
    """A headless chromium driven by Playwright (its own browser download is not used)."""
    return _playwright().chromium.launch(executable_path=chromium_path(), headless=True)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002  (the base class's signature)
        pass


@dataclass
class LocalServer:
    """A static web server for ``root`` on 127.0.0.1 (a free port), in a thread."""

    root: Path
    server: http.server.ThreadingHTTPServer = field(init=False)

    def __post_init__(self):
        handler = functools.partial(QuietHandler, directory=str(self.root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@dataclass
class PageRecord:
    """Everything a page reported while it was watched: console errors, uncaught exceptions,
    failed and refused requests, and every URL requested."""

    console_errors: list = field(default_factory=list)
    failed_requests: list = field(default_factory=list)
    requested: list = field(default_factory=list)

    def watch(self, page):
        page.on("console", lambda message: message.type == "error"
                and self.console_errors.append(f"{message.text} ({message.location})"))
        page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))
        page.on("requestfailed", lambda request: self.failed_requests.append(
            f"{request.url}: {request.failure}"))
        page.on("response", lambda response: response.status >= 400
                and self.failed_requests.append(f"{response.url}: HTTP {response.status}"))
        page.on("request", lambda request: self.requested.append(request.url))
        return page

    def outside(self, allowed_prefix: str) -> list:
        """Requested URLs that are neither under ``allowed_prefix`` nor inline (data:, blob:)."""
        return [url for url in self.requested
                if not url.startswith((allowed_prefix, "data:", "blob:", "about:"))]
