"""plotly.js's basic bundle: fetched only when its bytes match the record, served at a
fingerprinted URL, and enough for every figure rankaudit draws."""

from __future__ import annotations

import ast
import base64
import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import plotly.graph_objects as go
import pytest
from plotly.basedatatypes import BaseTraceType

from dash_app import plotly_bundle
from dash_app.app import create_app, plotly_bundle_url
from dash_app.plotly_bundle import BundleError, fetch, plotly_js_version, release
from dash_app.transfer import IMMUTABLE, STATIC, Compressed
from rankaudit.figures.theme import PLOTLY_TRACES
from rankaudit.views import WorkspaceSession
from tests.app.test_transfer import _get

ROOT = Path(__file__).resolve().parents[2]
BODY = b"/* plotly.js basic, test build */ window.Plotly = {};"


def _tarball(members: dict[str, bytes], *, link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
        if link is not None:
            info = tarfile.TarInfo(link)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            archive.addfile(info)
    return buffer.getvalue()


def _record(tmp: Path, tarball: bytes) -> Path:
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    record = tmp / "record.json"
    record.write_text(
        json.dumps(
            {
                "package": "p",
                "version": "9.9.9",
                "file": "plotly-basic.min.js",
                "integrity": integrity,
            }
        )
    )
    return record


def test_the_record_is_of_the_installed_plotly_js() -> None:
    assert release().version == plotly_js_version()
    assert release().integrity.startswith("sha512-")


def test_a_tarball_matching_its_record_is_installed_atomically(tmp_path: Path) -> None:
    tarball = _tarball({"package/plotly-basic.min.js": BODY, "package/README.md": b"x"})
    source = tmp_path / "p.tgz"
    source.write_bytes(tarball)
    target = tmp_path / "share"
    path = fetch(target, _record(tmp_path, tarball), url=source.as_uri())
    assert path == target / "plotly-basic-9.9.9.min.js"
    assert path.read_bytes() == BODY
    assert [p.name for p in target.iterdir()] == [path.name]  # no temporary left


@pytest.mark.parametrize(
    ("members", "link", "message"),
    [
        ({"package/plotly-basic.min.js": BODY}, None, "does not match"),  # other bytes
        ({"package/other.js": BODY}, None, "has no package/plotly-basic.min.js"),
        ({}, "package/plotly-basic.min.js", "is not a regular file"),
    ],
)
def test_a_tarball_that_does_not_match_writes_nothing(
    tmp_path: Path, members: dict[str, bytes], link: str | None, message: str
) -> None:
    tarball = _tarball(members, link=link)
    record = _record(tmp_path, tarball if message != "does not match" else b"other")
    source = tmp_path / "p.tgz"
    source.write_bytes(tarball)
    with pytest.raises(BundleError, match=message):
        fetch(tmp_path / "share", record, url=source.as_uri())
    assert not (tmp_path / "share").exists() or not any((tmp_path / "share").iterdir())


def test_an_unreachable_registry_is_one_line(tmp_path: Path) -> None:
    tarball = _tarball({"package/plotly-basic.min.js": BODY})
    missing = (tmp_path / "missing.tgz").as_uri()
    with pytest.raises(BundleError, match="cannot download"):
        fetch(tmp_path / "share", _record(tmp_path, tarball), url=missing)


def test_the_installed_bundle_is_served_async_gzipped_and_immutable(
    session: WorkspaceSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "plotly-basic-4.1.1.min.js"
    bundle.write_bytes(BODY * 100)
    monkeypatch.setattr(plotly_bundle, "installed", lambda: bundle)
    app = Compressed(create_app(session).server)
    url = plotly_bundle_url()
    digest = hashlib.sha256(BODY * 100).hexdigest()[:12]
    assert url == f"{STATIC}plotly-basic-4.1.1.min.{digest}.js"
    _, _, index = _get(app, "/", encoding="identity")
    assert f'<script src="{url}" async="async"></script>' in index.decode()
    assert "package_data/plotly" not in index.decode()  # the full bundle is not loaded
    status, headers, body = _get(app, url)
    assert status.startswith("200")
    assert headers["cache-control"] == IMMUTABLE
    assert gzip.decompress(body) == BODY * 100
    for other in (f"{STATIC}plotly-basic-4.1.1.min.000000000000.js", f"{STATIC}..%2Fsecret"):
        assert _get(app, other)[0].startswith("404")


def _trace_types_used(folder: Path) -> dict[str, str]:
    """Every `go.<Trace>(` call in the sources under `folder`: trace type -> where."""
    used = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "go"
            ):
                cls = getattr(go, node.func.attr, None)
                if isinstance(cls, type) and issubclass(cls, BaseTraceType):
                    used[str(cls().type)] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return used


def test_every_figure_uses_only_the_basic_bundles_trace_types() -> None:
    used = {}
    for folder in (ROOT / "src" / "rankaudit", ROOT / "dash_app"):
        used |= _trace_types_used(folder)
    assert {"bar", "scatter"} <= set(used)  # the scan sees the figures
    assert set(used) <= PLOTLY_TRACES, {t: w for t, w in used.items() if t not in PLOTLY_TRACES}
