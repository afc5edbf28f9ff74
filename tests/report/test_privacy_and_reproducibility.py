"""`--pseudonymize` leaves none of the selection's viewer or author ids in the report and never
writes the salt; the same inputs and seed give the same JSON, byte for byte, but for the
creation time."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from plotly.offline import get_plotlyjs

from rankaudit.compare import compare_request
from rankaudit.report import Pseudonymizer, Report, build_report
from rankaudit.workspace import Workspace
from tests.report.conftest import BUG_REQUEST, BUG_USER, fast_settings

SALT = "a-salt-for-the-tests-only"


@pytest.fixture(scope="module")
def private(demo: Workspace) -> Report:
    return build_report(
        demo,
        users=[BUG_USER, "u000193"],
        settings=fast_settings(importance_rows=30),
        pseudonymize=True,
        salt=SALT,
    )


def test_pseudonymized_report_contains_no_original_id(demo: Workspace, private: Report) -> None:
    document = json.loads(private.json())
    page = private.html().decode("utf-8").replace(get_plotlyjs(), "")
    text = private.json().decode("utf-8")
    originals: set[str] = set()
    for viewer in document["viewers"]:
        rows = compare_request(demo, request=viewer["request_id"]).rows
        originals.update(rows["user_id"].astype(str))
        originals.update(rows["author_id"].astype(str))
    assert BUG_USER in originals
    assert len(originals) > 20
    for original in sorted(originals):
        assert original not in text, original
        assert original not in page, original
    assert SALT not in text
    assert SALT not in page
    # Consistent: one pseudonym per id, the same in the JSON and the figures.
    pseudonym = Pseudonymizer.create(enabled=True, salt=SALT)
    assert document["viewers"][0]["user_id"] == pseudonym(BUG_USER)
    assert document["viewers"][0]["request_id"] == BUG_REQUEST
    authors = {t["author_id"] for v in document["viewers"] for t in v["tweets"]}
    assert all(re.fullmatch(r"anon-[a-z]{12}", a) for a in authors)
    assert all(a in page for a in authors)
    assert document["manifest"]["selection"]["users"] == [pseudonym(BUG_USER), pseudonym("u000193")]
    assert "--user" not in document["manifest"]["command"]
    assert f"--request {BUG_REQUEST}" in document["manifest"]["command"]
    assert document["manifest"]["pseudonymization"]["enabled"] is True


def test_pseudonyms_depend_on_the_salt_only() -> None:
    one = Pseudonymizer.create(enabled=True, salt="x")
    assert one("u1") == one("u1") != one("u2")
    assert one("u1") != Pseudonymizer.create(enabled=True, salt="y")("u1")
    assert Pseudonymizer.create(enabled=False)("u1") == "u1"
    assert not any(ch.isdigit() for ch in one("u000406"))
    random_one, random_two = (Pseudonymizer.create(enabled=True) for _ in range(2))
    assert random_one("u1") != random_two("u1")
    assert "salt" not in repr(one).replace("salt_source", "")


def _without_time(report: Report) -> tuple[str, dict[str, Any]]:
    text = report.json().decode("utf-8")
    document = json.loads(text)
    stamp = document["manifest"].pop("created_at")
    return text.replace(stamp, "CREATED"), document


def test_two_runs_give_the_same_json_but_the_time(demo: Workspace) -> None:
    settings = fast_settings(importance_rows=20, movers=1, seed=3)
    first = build_report(demo, users=[BUG_USER], settings=settings)
    second = build_report(
        demo, users=[BUG_USER], settings=settings, created_at=datetime(2030, 1, 2, tzinfo=UTC)
    )
    text_one, document_one = _without_time(first)
    text_two, _ = _without_time(second)
    assert text_one == text_two
    assert json.loads(second.json())["manifest"]["created_at"] == "2030-01-02T00:00:00+00:00"
    assert document_one["manifest"]["seed"] == 3
    assert document_one["manifest"]["attribution"]["settings"]["seed"] == 3
    assert document_one["manifest"]["compare"]["seed"] == 3
    # Keys sorted, floats rounded to 6 significant digits.
    assert (
        text_one
        == json.dumps(json.loads(text_one), sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    )
    floats = re.findall(r"-?\d+\.\d+(?:e-?\d+)?", text_one)
    assert floats
    assert all(len(f.lstrip("-").split("e")[0].replace(".", "").lstrip("0")) <= 6 for f in floats)
