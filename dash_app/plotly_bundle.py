"""plotly.js's basic bundle (scatter, bar and pie traces): the only plotly.js the pages need.

The plotly Python package ships the full plotly.js (4.8 MB minified), and a browser spends 0.6-1 s
of a page's main thread parsing and running it on a cold cache. The figures of rankaudit use
only the trace types of the basic bundle (`rankaudit.figures.theme.PLOTLY_TRACES`, checked by a
test), which is 1.2 MB: the same plotly.js release, built with fewer trace modules.

It is not committed: `python -m dash_app.plotly_bundle` (run by `make`) downloads the release's
npm tarball, checks its sha512 against the integrity recorded in `plotly-basic.json` (npm's own
`dist.integrity` for that version), reads the one file out of it and writes it into the
environment (`<sys.prefix>/share/rankaudit/`, a temporary file then a rename). The version is
the one of the plotly.js inside the installed plotly package: a test checks the record against
it, so a plotly upgrade that is not followed here fails loudly. Where the bundle is missing (an
install without `make`, no network), the app serves the full bundle and says so once.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BundleError", "Release", "fetch", "installed", "plotly_js_version", "release"]

RECORD = Path(__file__).with_name("plotly-basic.json")
#: Where `fetch` writes the bundle: inside the environment rankaudit is installed in.
DIRECTORY = Path(sys.prefix) / "share" / "rankaudit"
TIMEOUT_S = 60.0
MAX_TARBALL_BYTES = 20_000_000


class BundleError(Exception):
    """The bundle could not be fetched or did not match its record; one line saying why."""


@dataclass(frozen=True)
class Release:
    """One npm release of the basic bundle, as recorded in plotly-basic.json."""

    package: str
    version: str
    file: str
    integrity: str

    @property
    def tarball(self) -> str:
        return f"https://registry.npmjs.org/{self.package}/-/{self.package}-{self.version}.tgz"

    @property
    def filename(self) -> str:
        return f"plotly-basic-{self.version}.min.js"


def release(record: Path = RECORD) -> Release:
    data = json.loads(record.read_text(encoding="utf-8"))
    return Release(
        package=str(data["package"]),
        version=str(data["version"]),
        file=str(data["file"]),
        integrity=str(data["integrity"]),
    )


def plotly_js_version() -> str:
    """The version of the plotly.js bundled with the installed plotly package (its header)."""
    import plotly

    bundle = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    with bundle.open("r", encoding="utf-8") as handle:
        head = handle.read(400)
    match = re.search(r"plotly\.js v(\d+\.\d+\.\d+)", head)
    if match is None:
        raise BundleError(f"{bundle}: no plotly.js version in its header")
    return match.group(1)


def installed(directory: Path = DIRECTORY, record: Path = RECORD) -> Path | None:
    """The fetched bundle, when it is there and of the installed plotly.js's version."""
    wanted = release(record)
    path = directory / wanted.filename
    if path.is_file() and wanted.version == plotly_js_version():
        return path
    return None


def _check(tarball: bytes, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise BundleError(f"plotly-basic.json: integrity must be sha512; got {algorithm!r}")
    actual = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if actual != expected:
        raise BundleError(
            f"downloaded tarball does not match plotly-basic.json's integrity (sha512-{actual})"
        )


def _member(tarball: bytes, name: str) -> bytes:
    """The bytes of one regular file of the tarball; nothing is extracted to disk."""
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        try:
            member = archive.getmember(name)
        except KeyError:
            raise BundleError(f"tarball has no {name}") from None
        handle = archive.extractfile(member) if member.isfile() else None
        if handle is None:
            raise BundleError(f"tarball's {name} is not a regular file")
        return handle.read()


def fetch(directory: Path = DIRECTORY, record: Path = RECORD, *, url: str | None = None) -> Path:
    """Download, check and install the basic bundle; returns its path (already there: kept)."""
    wanted = release(record)
    target = directory / wanted.filename
    if target.is_file():
        return target
    source = url or wanted.tarball
    try:
        with urllib.request.urlopen(source, timeout=TIMEOUT_S) as response:
            tarball = response.read(MAX_TARBALL_BYTES + 1)
    except OSError as exc:
        raise BundleError(f"cannot download {source}: {exc}") from None
    if len(tarball) > MAX_TARBALL_BYTES:
        raise BundleError(f"{source} is larger than {MAX_TARBALL_BYTES} bytes")
    _check(tarball, wanted.integrity)
    body = _member(tarball, f"package/{wanted.file}")
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".plotly-basic-", suffix=".tmp")
    os.fchmod(handle, 0o644)  # served to browsers; mkstemp makes it private
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def main() -> int:
    try:
        wanted = release()
        if wanted.version != plotly_js_version():
            raise BundleError(
                f"plotly-basic.json records plotly.js {wanted.version} but plotly ships "
                f"{plotly_js_version()}: update the record"
            )
        path = fetch()
    except BundleError as exc:
        print(f"plotly.js basic bundle not installed ({exc}); the app serves the full bundle")
        return 1
    print(f"plotly.js basic bundle: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
