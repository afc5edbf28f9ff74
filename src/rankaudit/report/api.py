"""`build_report`: the audit report of a selection of viewers, as a value that renders itself.

`build_report(workspace, surprising=5)` returns a `Report`; `report.html()` and `report.json()`
are the bytes of the self-contained HTML file and of its machine-readable twin, and
`report.write(html=..., json=..., pdf=...)` writes them (and a PDF) all or nothing.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rankaudit.attribution import INTERACTIVE_SETTINGS, AttributionCache
from rankaudit.compare import PopulationComparison, SurpriseList
from rankaudit.report.document import build_document, dumps_document, normalize
from rankaudit.report.gather import ReportData, gather_report
from rankaudit.report.html import render_html
from rankaudit.report.output import check_outputs, write_outputs
from rankaudit.report.plots import ReportFigure, build_figures
from rankaudit.report.pseudonym import Pseudonymizer
from rankaudit.report.selection import Selection
from rankaudit.report.settings import ReportSettings
from rankaudit.workspace import Workspace, load_workspace

__all__ = ["Report", "build_report", "reproduce_command"]


@dataclass(frozen=True, eq=False)
class Report:
    """A built report: `document` (the JSON twin as plain values, numbers already rounded as
    written) and its `figures`. Rendering is deterministic: the same report gives the same
    bytes."""

    document: Mapping[str, Any]
    figures: tuple[ReportFigure, ...]
    _cache: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    def json(self) -> bytes:
        """The JSON document (UTF-8): keys sorted, floats to 6 significant digits."""
        if "json" not in self._cache:
            self._cache["json"] = dumps_document(self.document)
        return self._cache["json"]

    def html(self) -> bytes:
        """The self-contained HTML file (UTF-8), with plotly.js embedded once."""
        if "html" not in self._cache:
            self._cache["html"] = render_html(self.document, self.figures)
        return self._cache["html"]

    def write(
        self,
        *,
        html: Path | None = None,
        json: Path | None = None,
        pdf: Path | None = None,
    ) -> dict[str, int]:
        """Write the chosen files all or nothing (temporary names, renamed at the end); the PDF
        is printed from the HTML by headless Chromium. Returns each file's size in bytes.
        Raises InputFileError for an unwritable path, BrowserError without a browser."""
        check_outputs(out=html, json=json, pdf=pdf)
        if pdf is not None:
            from rankaudit.report.pdf import require_browser

            require_browser()
        return write_outputs(
            html=self.html, json=self.json, html_path=html, json_path=json, pdf_path=pdf
        )

    @property
    def viewers(self) -> int:
        return len(self.document["viewers"])


def reproduce_command(
    data: ReportData, pseudonym: Pseudonymizer, *, workspace_label: str = "WORKSPACE_DIR"
) -> str:
    """The `rankaudit report` command that rebuilds this report. Pseudonymized viewer ids are
    not written: a report chosen by viewer id is reproduced from its requests."""
    settings = data.settings
    selection = data.selection
    words = ["rankaudit", "report", "--workspace", workspace_label]
    if selection.mode == "users" and not pseudonym.enabled:
        for user in selection.ids:
            words += ["--user", user]
    elif selection.mode in ("users", "requests"):
        for viewer in data.viewers:
            words += ["--request", viewer.comparison.request_id]
    else:
        words += [f"--{selection.mode}", str(selection.n)]
    if settings.models != ("baseline", "deep"):
        words += ["--vs", *settings.models]
    words += ["--seed", str(settings.seed)]
    if replace(settings.attribution, seed=INTERACTIVE_SETTINGS.seed) == INTERACTIVE_SETTINGS:
        words.append("--fast")
    defaults = ReportSettings()
    if settings.movers != defaults.movers:
        words += ["--movers", str(settings.movers)]
    if settings.importance_rows != defaults.importance_rows:
        words += ["--importance-rows", str(settings.importance_rows)]
    if pseudonym.enabled:
        words.append("--pseudonymize")
    words += ["--out", "report.html", "--json", "report.json"]
    return shlex.join(words)


def _created_at(created_at: datetime | None) -> datetime | None:
    if created_at is not None:
        return created_at
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=UTC)
    return None


def build_report(
    workspace: Workspace | Path | str,
    *,
    users: Sequence[str] | None = None,
    requests: Sequence[str] | None = None,
    sample: int | None = None,
    surprising: int | None = None,
    settings: ReportSettings | None = None,
    pseudonymize: bool = False,
    salt: bytes | str | None = None,
    cache: AttributionCache | None = None,
    population: PopulationComparison | None = None,
    surprises: SurpriseList | None = None,
    created_at: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    workspace_label: str | None = None,
) -> Report:
    """Build the audit report of one selection of viewers (exactly one of `users`,
    `requests`, `sample`, `surprising`; see `rankaudit.report.selection`).

    `settings` (default `ReportSettings()`) fixes models, attribution and comparison settings
    and the seed. `pseudonymize` replaces viewer and author ids by keyed hashes (`salt`, else
    `RANKAUDIT_PSEUDONYM_SALT`, else random; never written). `cache`, `population` and
    `surprises` let a caller that already holds them (the web app's session) skip the work;
    they must come from the same workspace, models and settings. `created_at` (default: now,
    or `SOURCE_DATE_EPOCH`) is the only value that differs between two identical runs.

    Raises ParameterError for a bad selection or settings, NotFoundError for an unknown viewer
    or request or an empty selection, WorkspaceError for an unknown model.
    """
    selection = Selection.from_options(
        users=users, requests=requests, sample=sample, surprising=surprising
    )
    checked = (settings or ReportSettings()).validated()
    loaded = workspace if isinstance(workspace, Workspace) else load_workspace(workspace)
    pseudonym = Pseudonymizer.create(enabled=pseudonymize, salt=salt)
    data = gather_report(
        loaded,
        selection,
        settings=checked,
        cache=cache,
        population=population,
        surprises=surprises,
        created_at=_created_at(created_at),
        progress=progress,
    )
    if progress is not None:
        progress("drawing the figures")
    figures = build_figures(data, pseudonym)
    document = build_document(
        data,
        pseudonym=pseudonym,
        figures=[f.entry() for f in figures],
        command=reproduce_command(
            data, pseudonym, workspace_label=workspace_label or "WORKSPACE_DIR"
        ),
    )
    return Report(document=normalize(document), figures=tuple(figures))
