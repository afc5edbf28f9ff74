"""Code named by a model folder runs only when the workspace says so (issue 14, items 1 and 9).

A torch `entrypoint` names a Python factory: from an installed package or from the model
folder. It runs only with `trust_code = true` on the model's table, or `rankaudit
--trust-model-code`; otherwise `validate` refuses with one line and imports nothing. Whatever
trusted code raises, `SystemExit` included, is an error (exit 2), never a silent success.
"""

from __future__ import annotations

import multiprocessing
import pickle
import sys
from pathlib import Path

import pytest

from rankaudit.models.base import TRUST_ENV, ModelConfig, code_trusted
from rankaudit.workspace import load_workspace
from tests.security._workspace import add_model, cli, make_workspace, one_error_line, torch_folder

_MODEL = {"inputs": "numeric", "numeric_features": ["has_image"], "output": "score"}
#: A factory that leaves a mark when it runs, and builds a valid model otherwise.
_MARKING = """
from pathlib import Path
import torch
Path(__file__).with_name("imported").touch()

def make():
    Path(__file__).with_name("called").touch()
    return torch.nn.Linear(1, 1)
"""


@pytest.fixture(autouse=True)
def _untrusted_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRUST_ENV, raising=False)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


def _refusal(line: str, root: Path) -> None:
    manifest = root / "models" / "m" / "rankaudit-model.json"
    assert line.startswith(f"error: {manifest}: model 'm' has format 'entrypoint'"), line
    assert "trust_code = true in [models.m] of rankaudit.toml" in line
    assert "rankaudit --trust-model-code" in line


def test_a_manifest_cannot_run_a_command(root: Path) -> None:
    target = root / "pwned"
    manifest = {"format": "entrypoint", "entrypoint": "subprocess:getoutput",
                "hyperparameters": {"cmd": f"touch {target}"}, "weights": "w.safetensors", **_MODEL}  # fmt: skip
    torch_folder(root, manifest)
    add_model(root, "m", "torch", "models/m")
    code, _, err = cli("validate", "--workspace", str(root))
    assert code == 2
    _refusal(one_error_line(err), root)
    assert not target.exists()


def test_code_shipped_in_the_model_folder_is_not_imported(root: Path) -> None:
    manifest = {
        "format": "entrypoint",
        "entrypoint": "evil:make",
        "weights": "w.safetensors",
        **_MODEL,
    }
    folder = torch_folder(root, manifest, _MARKING)
    add_model(root, "m", "torch", "models/m")
    path_before = list(sys.path)
    code, _, err = cli("validate", "--workspace", str(root))
    assert code == 2
    _refusal(one_error_line(err), root)
    assert not (folder / "imported").exists()
    assert "evil" not in sys.modules
    assert sys.path == path_before


@pytest.mark.parametrize("how", ["trust_code", "--trust-model-code"])
def test_trusted_code_runs(root: Path, how: str) -> None:
    manifest = {
        "format": "entrypoint",
        "entrypoint": "evil:make",
        "weights": "w.safetensors",
        **_MODEL,
    }
    folder = torch_folder(root, manifest, _MARKING)
    add_model(
        root, "m", "torch", "models/m", *(["trust_code = true"] if how == "trust_code" else [])
    )
    options = ["--trust-model-code"] if how != "trust_code" else []
    code, out, err = cli(*options, "validate", "--workspace", str(root))
    sys.modules.pop("evil", None)
    assert (code, err) == (0, ""), err
    assert "model m: torch entrypoint (evil:make)" in out
    assert (folder / "imported").exists()
    assert (folder / "called").exists()


def test_the_global_option_does_not_outlive_its_command(root: Path) -> None:
    cli("--trust-model-code", "validate", "--workspace", str(root))
    assert TRUST_ENV not in __import__("os").environ


@pytest.mark.parametrize(
    ("kind", "line", "message"),
    [
        ("linear", "trust_code = true", "unknown key 'trust_code' for kind 'linear'"),
        ("torch", 'trust_code = "yes"', "'trust_code' must be true or false; got 'yes'"),
    ],
)
def test_trust_code_is_a_boolean_of_torch_models(
    root: Path, kind: str, line: str, message: str
) -> None:
    torch_folder(
        root,
        {"format": "entrypoint", "entrypoint": "evil:make", "weights": "w.safetensors", **_MODEL},
    )
    add_model(root, "m", kind, "models/linear.json" if kind == "linear" else "models/m", line)
    code, _, err = cli("validate", "--workspace", str(root))
    assert code == 2
    error = one_error_line(err)
    assert "[models.m]" in error
    assert message in error


_EXITS = {
    "factory": "import sys\nimport torch\ndef make():\n    sys.exit(0)\n",
    "import": "import sys\nsys.exit(0)\ndef make():\n    pass\n",
    "forward": (
        "import sys\nimport torch\nclass Quits(torch.nn.Linear):\n"
        "    def forward(self, x):\n        sys.exit(0)\n"
        "def make():\n    return Quits(1, 1)\n"
    ),
}


@pytest.mark.parametrize("where", list(_EXITS))
def test_sys_exit_in_user_code_is_an_error(root: Path, where: str) -> None:
    manifest = {
        "format": "entrypoint",
        "entrypoint": "evil:make",
        "weights": "w.safetensors",
        **_MODEL,
    }
    torch_folder(root, manifest, _EXITS[where])
    add_model(root, "m", "torch", "models/m", "trust_code = true")
    code, out, err = cli("validate", "--workspace", str(root))
    sys.modules.pop("evil", None)
    assert code == 2, out
    line = one_error_line(err)
    assert str(root / "models" / "m" / "rankaudit-model.json") in line
    assert "SystemExit" in line


def test_builtin_formats_need_no_trust(root: Path) -> None:
    import torch

    torch_folder(root, {"format": "torchscript", "file": "m.pt", **_MODEL})
    torch.jit.save(torch.jit.script(torch.nn.Linear(1, 1)), str(root / "models" / "m" / "m.pt"))
    add_model(root, "m", "torch", "models/m")
    code, out, err = cli("validate", "--workspace", str(root))
    assert (code, err) == (0, "")
    assert "model m: torch TorchScript" in out


def _trusted_in_child(config: ModelConfig) -> bool:
    return code_trusted(config)


def test_the_global_option_reaches_workers(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The flag is an environment variable (inherited by the local engine's spawned workers)
    and is folded into each model's config (which travels, pickled, to Ray workers)."""
    torch_folder(
        root,
        {"format": "entrypoint", "entrypoint": "evil:make", "weights": "w.safetensors", **_MODEL},
    )
    add_model(root, "m", "torch", "models/m")
    assert load_workspace(root).models["m"].trust_code is False
    monkeypatch.setenv(TRUST_ENV, "1")
    config = load_workspace(root).models["m"]
    assert config.trust_code is True
    assert pickle.loads(pickle.dumps(config)).trust_code is True
    plain = ModelConfig("m", "torch", path=root / "models" / "m")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(_trusted_in_child, (plain,)) is True
