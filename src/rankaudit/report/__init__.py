"""Audit reports: one self-contained HTML file a reviewer can open offline and file, its
machine-readable JSON twin, and a PDF printed by headless Chromium.

`build_report(workspace, surprising=5)` gathers everything with the library's own functions
(`gather`), writes the JSON document (`document`), draws the figures with the web app's
builders (`plots`) and renders the HTML (`html`); `Report.write` writes the files all or
nothing. Pseudonyms (`pseudonym`) replace viewer and author ids when asked.
"""

from rankaudit.report.api import Report, build_report, reproduce_command
from rankaudit.report.document import dumps_document
from rankaudit.report.pdf import BROWSER_ENV, BrowserError, find_browser, print_pdf
from rankaudit.report.pseudonym import SALT_ENV, Pseudonymizer
from rankaudit.report.selection import SelectedRequest, Selection
from rankaudit.report.settings import REPORT_VERSION, ReportSettings

__all__ = [
    "BROWSER_ENV",
    "REPORT_VERSION",
    "SALT_ENV",
    "BrowserError",
    "Pseudonymizer",
    "Report",
    "ReportSettings",
    "SelectedRequest",
    "Selection",
    "build_report",
    "dumps_document",
    "find_browser",
    "print_pdf",
    "reproduce_command",
]
