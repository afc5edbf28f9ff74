"""Built-in torch architectures for timeline rankers.

Every module follows the one contract of the `torch` kind::

    forward(x_num: float32 [N, n_numeric], x_cat: int64 [N, n_categorical]) -> [N, n_outputs]

with RAW numeric feature values: normalisation (sign(x) * log1p(|x|) for heavy-tailed counts,
then (x - mean) / std) happens inside the module, with its constants stored as buffers. That
keeps attributions in the features' own units and puts the constants in the state dict, next
to the weights they were trained with. Categorical inputs are vocabulary indices; index 0 is
the unknown value and embeds to zeros.

The constructors' keyword arguments are exactly the `hyperparameters` of rankaudit-model.json,
so every argument is JSON-serialisable (lists, ints, floats, strings).
"""

# No `from __future__ import annotations` here: TorchScript reads these classes' annotations
# (the buffer declarations included) and cannot resolve them as strings.
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

__all__ = [
    "ARCHITECTURES",
    "ARCHITECTURE_LABELS",
    "InputLayer",
    "MLPRanker",
    "MaskBlock",
    "MultiTaskRanker",
    "Normaliser",
    "build_builtin",
]


class Normaliser(nn.Module):
    """sign(x) * log1p(|x|) on flagged features, then (x - mean) / std; no clamping."""

    log_mask: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self, log_features: Sequence[bool], mean: Sequence[float], std: Sequence[float]
    ) -> None:
        super().__init__()
        n = len(log_features)
        if len(mean) != n or len(std) != n:
            raise ValueError(
                f"log_features, mean and std must have one entry per numeric feature; "
                f"got {n}, {len(mean)} and {len(std)}"
            )
        if any(not s > 0 for s in std):
            raise ValueError("every std must be > 0 (use 1.0 for a constant feature)")
        self.register_buffer("log_mask", torch.tensor([bool(f) for f in log_features]))
        self.register_buffer("mean", torch.tensor([float(m) for m in mean], dtype=torch.float32))
        self.register_buffer("std", torch.tensor([float(s) for s in std], dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logged = torch.sign(x) * torch.log1p(torch.abs(x))
        normalised: torch.Tensor = (torch.where(self.log_mask, logged, x) - self.mean) / self.std
        return normalised


class InputLayer(nn.Module):
    """Normalised numeric features concatenated with one embedding per categorical feature."""

    def __init__(
        self,
        n_numeric: int,
        vocab_sizes: Sequence[int],
        embedding_dim: int,
        log_features: Sequence[bool],
        mean: Sequence[float],
        std: Sequence[float],
    ) -> None:
        super().__init__()
        if n_numeric < 0 or len(log_features) != n_numeric:
            raise ValueError(
                f"n_numeric ({n_numeric}) must equal the length of log_features, mean and std "
                f"({len(log_features)})"
            )
        if any(v < 1 for v in vocab_sizes) or embedding_dim < 1:
            raise ValueError("every vocabulary size and embedding_dim must be >= 1")
        if n_numeric + len(vocab_sizes) == 0:
            raise ValueError("a ranker needs at least one numeric or categorical feature")
        self.normaliser = Normaliser(log_features, mean, std)
        # vocab_size + 1 rows: row 0 is the unknown/unseen value, kept at zeros.
        self.embeddings = nn.ModuleList(
            nn.Embedding(v + 1, embedding_dim, padding_idx=0) for v in vocab_sizes
        )
        self.output_dim = n_numeric + len(vocab_sizes) * embedding_dim

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        parts = [self.normaliser(x_num)]
        for i, embedding in enumerate(self.embeddings):
            parts.append(embedding(x_cat[:, i]))
        return torch.cat(parts, dim=1)


def _mlp(input_dim: int, hidden: Sequence[int]) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    width = input_dim
    for units in hidden:
        if units < 1:
            raise ValueError(f"hidden layer sizes must be >= 1; got {list(hidden)}")
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    return nn.Sequential(*layers), width


class MLPRanker(nn.Module):
    """A feed-forward ranker: inputs -> hidden ReLU layers -> n_outputs.

    `output="probabilities"` returns sigmoid probabilities [N, n_outputs] (one per head);
    `output="score"` returns the raw score [N] of a single-score ranker (n_outputs must be 1).
    """

    def __init__(
        self,
        n_numeric: int,
        vocab_sizes: Sequence[int],
        *,
        n_outputs: int,
        log_features: Sequence[bool],
        mean: Sequence[float],
        std: Sequence[float],
        embedding_dim: int = 8,
        hidden: Sequence[int] = (64, 32),
        output: str = "probabilities",
    ) -> None:
        super().__init__()
        if output not in ("probabilities", "score"):
            raise ValueError(f"output must be 'probabilities' or 'score'; got {output!r}")
        if n_outputs < 1 or (output == "score" and n_outputs != 1):
            raise ValueError(f"n_outputs must be >= 1, and 1 with output='score'; got {n_outputs}")
        self.inputs = InputLayer(n_numeric, vocab_sizes, embedding_dim, log_features, mean, std)
        self.body, width = _mlp(self.inputs.output_dim, hidden)
        self.head = nn.Linear(width, n_outputs)
        self.probabilities = output == "probabilities"

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        return self.forward_inputs(self.inputs(x_num, x_cat))

    def forward_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Everything after the input layer: attribution engines feed embedded inputs here."""
        out: torch.Tensor = self.head(self.body(x))
        if self.probabilities:
            return torch.sigmoid(out)
        return out[:, 0]


class MaskBlock(nn.Module):
    """One MaskNet block: an instance-guided mask scales the layer-normalised input, then
    Linear -> LayerNorm -> ReLU. The mask, computed from the same row, lets each candidate
    emphasise different features, which is what makes the parallel blocks differ."""

    def __init__(self, input_dim: int, mask_hidden: int, output_dim: int) -> None:
        super().__init__()
        self.mask = nn.Sequential(
            nn.Linear(input_dim, mask_hidden), nn.ReLU(), nn.Linear(mask_hidden, input_dim)
        )
        self.input_norm = nn.LayerNorm(input_dim)
        self.hidden = nn.Linear(input_dim, output_dim)
        self.output_norm = nn.LayerNorm(output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        masked = self.mask(x) * self.input_norm(x)
        return torch.relu(self.output_norm(self.hidden(masked)))


class MultiTaskRanker(nn.Module):
    """A parallel-MaskNet multi-task ranker with one sigmoid tower per engagement head.

    inputs -> `n_blocks` mask blocks in parallel -> concatenated -> MLP (`hidden`) -> per head:
    Linear(tower_hidden) -> ReLU -> Linear(1) -> sigmoid. Returns probabilities [N, n_outputs].
    """

    def __init__(
        self,
        n_numeric: int,
        vocab_sizes: Sequence[int],
        *,
        n_outputs: int,
        log_features: Sequence[bool],
        mean: Sequence[float],
        std: Sequence[float],
        embedding_dim: int = 8,
        n_blocks: int = 3,
        block_dim: int = 32,
        mask_hidden: int = 64,
        hidden: Sequence[int] = (64,),
        tower_hidden: int = 16,
    ) -> None:
        super().__init__()
        if n_outputs < 1 or n_blocks < 1 or min(block_dim, mask_hidden, tower_hidden) < 1:
            raise ValueError(
                "n_outputs, n_blocks, block_dim, mask_hidden and tower_hidden must be >= 1"
            )
        self.inputs = InputLayer(n_numeric, vocab_sizes, embedding_dim, log_features, mean, std)
        dim = self.inputs.output_dim
        self.blocks = nn.ModuleList(MaskBlock(dim, mask_hidden, block_dim) for _ in range(n_blocks))
        self.trunk, width = _mlp(n_blocks * block_dim, hidden)
        self.towers = nn.ModuleList(
            nn.Sequential(nn.Linear(width, tower_hidden), nn.ReLU(), nn.Linear(tower_hidden, 1))
            for _ in range(n_outputs)
        )

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        return self.forward_inputs(self.inputs(x_num, x_cat))

    def forward_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Everything after the input layer: attribution engines feed embedded inputs here."""
        # Explicit loops rather than comprehensions: TorchScript can script these.
        blocks = []
        for block in self.blocks:
            blocks.append(block(x))
        z = self.trunk(torch.cat(blocks, dim=1))
        logits = []
        for tower in self.towers:
            logits.append(tower(z))
        return torch.sigmoid(torch.cat(logits, dim=1))


#: Architecture name in rankaudit-model.json -> constructor.
ARCHITECTURES: Mapping[str, Callable[..., nn.Module]] = {
    "mlp": MLPRanker,
    "multitask": MultiTaskRanker,
}

#: Short human labels used in model descriptions.
ARCHITECTURE_LABELS: Mapping[str, str] = {"mlp": "MLP", "multitask": "parallel MaskNet"}


def build_builtin(architecture: str, hyperparameters: Mapping[str, object]) -> nn.Module:
    """Return a freshly initialised built-in module, in eval mode.

    Raises ValueError naming the valid architectures when `architecture` is unknown, and
    ValueError when the hyperparameters do not fit its constructor.
    """
    constructor = ARCHITECTURES.get(architecture)
    if constructor is None:
        raise ValueError(
            f"unknown architecture {architecture!r}; valid architectures: "
            f"{', '.join(sorted(ARCHITECTURES))}"
        )
    try:
        module = constructor(**hyperparameters)
    except TypeError as exc:  # missing or unexpected keyword argument
        raise ValueError(
            f"hyperparameters do not fit architecture {architecture!r}: {exc}"
        ) from None
    return module.eval()
