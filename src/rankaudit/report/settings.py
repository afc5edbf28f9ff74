"""What an audit report computes and how much of it it shows: one frozen settings object."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from rankaudit.attribution import AttributionSettings
from rankaudit.attribution.rank import RankSettings
from rankaudit.compare import CompareSettings, SurpriseSettings
from rankaudit.compare.settings import check_models
from rankaudit.errors import ParameterError
from rankaudit.exposure import ExposureSettings

__all__ = ["REPORT_VERSION", "ReportSettings"]

#: Version of the report's JSON document; bumped only when a key changes meaning.
REPORT_VERSION = 1


def _positive(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(
            f"The {name!r} parameter of ReportSettings must be an int >= 1. Got {value!r} instead."
        )
    return value


@dataclass(frozen=True)
class ReportSettings:
    """Knobs of an audit report.

    - `models`: (reference, audited) rankers of the workspace.
    - `attribution`: settings of every attribution in the report (request, pair and global
      references); `compare` of the population summary; `surprise` of the surprise list.
    - `seed`: the one seed of the report. It replaces the seeds of `attribution` and `compare`
      and seeds the viewer sample and the global-importance sample, so a report is fully
      determined by its inputs and this number.
    - `top_features`: contributions kept per tweet, model and method; the HTML shows each of
      them, then "all other features (K)" with the sum of the rest.
    - `movers`: tweets per viewer explained pairwise (the biggest moves, ties by tweet id).
    - `importance_rows`: log rows (whole requests, seeded) behind global importance.
    - `exposure_groups`: group specs of the exposure section (`rankaudit.exposure.groups`);
      None derives them from the workspace (`rankaudit.report.exposure`), () skips it.
      `exposure`: its attention model, bootstrap and permutation counts (seed: `seed`).
    - `rank`: settings of the movers' rank explanations (`explain_rank`, audited ranker,
      request reference) and of each viewer's "why surprising" line (`explain_disagreement`
      of the two rankers); seed: `seed`.
    """

    models: tuple[str, str] = ("baseline", "deep")
    attribution: AttributionSettings = field(default_factory=AttributionSettings)
    compare: CompareSettings = field(default_factory=CompareSettings)
    surprise: SurpriseSettings = field(default_factory=SurpriseSettings)
    seed: int = 0
    top_features: int = 5
    movers: int = 3
    importance_rows: int = 250
    exposure_groups: tuple[str, ...] | None = None
    exposure: ExposureSettings = field(default_factory=ExposureSettings)
    rank: RankSettings = field(default_factory=RankSettings)

    def validated(self) -> ReportSettings:
        """Return the settings with the seed applied everywhere; raise ParameterError naming
        the first bad value."""
        models = check_models(self.models, "ReportSettings")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ParameterError(
                f"The 'seed' parameter of ReportSettings must be an int >= 0. Got {self.seed!r} instead."
            )
        _positive(self.top_features, "top_features")
        _positive(self.movers, "movers")
        _positive(self.importance_rows, "importance_rows")
        return replace(
            self,
            models=models,
            attribution=replace(self.attribution, seed=self.seed),
            compare=replace(self.compare, seed=self.seed).validated("build_report"),
            surprise=self.surprise.validated("build_report"),
            exposure_groups=None if self.exposure_groups is None else tuple(self.exposure_groups),
            exposure=replace(self.exposure, seed=self.seed).validated("build_report"),
            rank=replace(self.rank, seed=self.seed),
        )
