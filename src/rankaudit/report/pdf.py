"""Print the HTML report to PDF with headless Chromium (when one is installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from rankaudit.errors import RankauditError

__all__ = ["BROWSER_ENV", "BrowserError", "find_browser", "print_pdf"]

#: Environment variable naming the Chromium (or Chrome) executable to print with.
BROWSER_ENV = "RANKAUDIT_CHROMIUM"
_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
#: Width of the window the figures are laid out in: narrower than an A4 page's printable
#: width (186 mm = 703 CSS px at 12 mm margins), so every figure fits the printed page.
_WINDOW = "700,1000"


class BrowserError(RankauditError, RuntimeError):
    """No headless browser to print a PDF with, or the browser failed to print."""


def find_browser() -> Path | None:
    """The Chromium to print with: `RANKAUDIT_CHROMIUM` when set, else the first of
    chromium, chromium-browser, google-chrome, google-chrome-stable, chrome on PATH."""
    configured = os.environ.get(BROWSER_ENV)
    if configured:
        path = Path(configured)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def require_browser() -> Path:
    """`find_browser()`, or BrowserError saying how to get one."""
    browser = find_browser()
    if browser is None:
        configured = os.environ.get(BROWSER_ENV)
        where = (
            f"{BROWSER_ENV}={configured} is not an executable file"
            if configured
            else f"none of {', '.join(_NAMES)} is on PATH"
        )
        raise BrowserError(
            f"--pdf needs headless Chromium to print the report, but {where}; install it "
            f"(Debian/Ubuntu: apt-get install chromium) or set {BROWSER_ENV} to its path, "
            "or leave out --pdf and print the HTML from any browser"
        )
    return browser


def print_pdf(html: Path, pdf: Path, *, browser: Path | None = None, timeout: float = 300) -> None:
    """Print the HTML file `html` to `pdf` (A4, no header or footer) after its scripts have
    drawn the figures. Raises BrowserError when no browser is found or printing fails."""
    executable = browser or require_browser()
    with tempfile.TemporaryDirectory(prefix="rankaudit-chromium-") as profile:
        command = [
            str(executable),
            "--headless=new",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            f"--user-data-dir={profile}",
            f"--window-size={_WINDOW}",
            "--hide-scrollbars",
            "--no-pdf-header-footer",
            "--virtual-time-budget=120000",
            f"--print-to-pdf={pdf}",
            html.resolve().as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # Chromium refuses to start as root with its sandbox; the page is our own file
            # under a strict Content-Security-Policy.
            command.insert(1, "--no-sandbox")
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise BrowserError(
                f"{executable} did not finish printing the PDF within {timeout:.0f} s"
            ) from None
        except OSError as exc:
            raise BrowserError(f"cannot run {executable} ({exc.strerror or exc})") from None
    if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        lines = [line for line in (done.stderr or "").splitlines() if line.strip()]
        detail = lines[-1].strip() if lines else f"exit status {done.returncode}"
        raise BrowserError(f"{executable} could not print the PDF ({detail})")
