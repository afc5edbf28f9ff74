"""Bad input ends in one line on stderr and exit 2, never a traceback (issue 14, item 10)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from tests.security._workspace import (
    add_model,
    cli,
    cli_process,
    make_workspace,
    one_error_line,
    torch_folder,
)


def test_a_symlink_loop_as_logs(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws")
    (root / "loop_a").symlink_to("loop_b")
    (root / "loop_b").symlink_to("loop_a")
    config = root / "rankaudit.toml"
    config.write_text(config.read_text().replace('logs = "logs"', 'logs = "loop_a"'))
    code, _, err = cli("validate", "--workspace", str(root))
    assert code == 2
    line = one_error_line(err)
    assert line.startswith(f"error: {config}: 'loop_a' is a symbolic link loop")


def test_a_symlink_loop_inside_the_logs_folder_is_skipped(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws")
    (root / "logs" / "a.parquet").symlink_to("b.parquet")
    (root / "logs" / "b.parquet").symlink_to("a.parquet")
    (root / "logs" / "up").symlink_to("..")
    code, _, err = cli("validate", "--workspace", str(root))
    assert (code, err) == (0, "")


def test_a_rankaudit_toml_that_is_not_utf8(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws")
    config = root / "rankaudit.toml"
    config.write_bytes(config.read_bytes().replace(b'name = "tiny"', b'name = "t\xffny"'))
    code, _, err = cli("validate", "--workspace", str(root))
    assert code == 2
    assert one_error_line(err) == (
        f"error: {config}: not UTF-8 text (byte 9 is 0xff); save rankaudit.toml as UTF-8"
    )


def test_a_torch_export_file_that_is_not_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_workspace(tmp_path / "ws")
    manifest = {"format": "export", "file": "model.pt2", "inputs": "numeric",
                "numeric_features": ["has_image"], "output": "score"}  # fmt: skip
    folder = torch_folder(root, manifest)
    (folder / "model.pt2").write_bytes(b"not a program\n" * 10)
    add_model(root, "m", "torch", "models/m")
    # torch.export logs a whole traceback through `logging` (on stderr, with no handler
    # configured) before it raises.
    with caplog.at_level(logging.DEBUG):
        code, _, err = cli("validate", "--workspace", str(root))
    assert [r for r in caplog.records if r.name.startswith("torch")] == []
    assert code == 2
    line = one_error_line(err)
    assert line.startswith(f"error: {folder / 'model.pt2'}: not a torch.export program")
    assert "torch.export.save" in line


def test_lightgbm_prints_nothing_of_its_own(tmp_path: Path) -> None:
    """A well-formed file LightGBM refuses itself (an unknown objective): its `[Fatal]` line,
    printed by the native library on the process's stderr, must not precede ours."""
    root = make_workspace(tmp_path / "ws")
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(200, 2)), columns=["topic_similarity", "real_graph_weight"])
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 4, "num_threads": 1},
                        lgb.Dataset(x, (x.iloc[:, 0] > 0).astype(int)), 2)  # fmt: skip
    path = root / "models" / "gbm.txt"
    text = booster.model_to_string()
    assert "objective=binary sigmoid:1\n" in text
    path.write_text(text.replace("objective=binary sigmoid:1\n", "objective=no_such_objective\n"))
    add_model(root, "gbm", "lightgbm", "models/gbm.txt")
    code, out, err = cli_process("validate", "--workspace", str(root))
    assert code == 2
    line = one_error_line(err)
    assert line.startswith(f"error: {path}: not a LightGBM text model (")
    assert "no_such_objective" in line
    assert "[LightGBM]" not in out + err


def test_the_manifest_of_a_model_is_not_json(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws")
    folder = torch_folder(root, {})
    (folder / "rankaudit-model.json").write_bytes(b"\xff\xfe{")
    add_model(root, "m", "torch", "models/m")
    code, _, err = cli("validate", "--workspace", str(root))
    assert code == 2
    assert json.dumps(str(folder))
    assert one_error_line(err).startswith(
        f"error: {folder / 'rankaudit-model.json'}: cannot read model manifest (not UTF-8 text)"
    )
