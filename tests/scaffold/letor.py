"""A seeded LETOR/svmlight data set written by the tests, with the log it must import to,
built from the generating values (not through any parser)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = 20
DENSE = 10  # ids 1..10 on every line; 11..20 sparse
NEVER = 17  # a sparse id no line lists


@dataclass(frozen=True)
class Letor:
    qids: tuple[int, ...]
    sizes: tuple[int, ...]
    grades: tuple[float, ...]
    entries: tuple[dict[int, float], ...]

    @property
    def rows(self) -> int:
        return len(self.grades)

    def lines(self, *, with_qid: bool) -> list[str]:
        out = ["# a LETOR-style file written by the tests", ""]
        doc = 0
        for q, size in zip(self.qids, self.sizes, strict=True):
            for _ in range(size):
                parts = [f"{self.grades[doc]:g}"]
                if with_qid:
                    parts.append(f"qid:{q}")
                parts += [f"{i}:{v!r}" for i, v in sorted(self.entries[doc].items())]
                comment = f" # docid = GX{doc:05d}" if doc % 3 == 0 else ""
                out.append(" ".join(parts) + comment)
                doc += 1
        return out

    def write(self, path: Path, *, with_qid: bool = True) -> Path:
        path.write_text("\n".join(self.lines(with_qid=with_qid)) + "\n")
        return path

    def write_query(self, path: Path) -> Path:
        path.write_text("".join(f"{s}\n" for s in self.sizes))
        return path

    def expected(self, *, query_file: bool) -> pd.DataFrame:
        """The log the import must write, value for value."""
        width_q = len(str(len(self.qids) - 1))
        width_d = len(str(self.rows - 1))
        requests, stamps = [], []
        for index, (q, size) in enumerate(zip(self.qids, self.sizes, strict=True)):
            name = f"q{index:0{width_q}d}" if query_file else str(q)
            requests += [name] * size
            stamps += [pd.Timestamp("1970-01-01T00:00:00Z") + pd.Timedelta(seconds=index)] * size
        frame = pd.DataFrame(
            {
                "request_id": requests,
                "user_id": requests,
                "tweet_id": [f"d{d:0{width_d}d}" for d in range(self.rows)],
                "author_id": ["unknown"] * self.rows,
                "served_at": pd.DatetimeIndex(stamps).as_unit("us"),
                "position": [p for size in self.sizes for p in range(1, size + 1)],
                "relevance": np.asarray(self.grades, dtype=np.float64),
            }
        )
        for i in range(1, FEATURES + 1):
            frame[f"f{i}"] = np.asarray([e.get(i, 0.0) for e in self.entries], dtype=np.float64)
        return frame


def make_letor(seed: int = 11, queries: int = 15, *, single: bool = False) -> Letor:
    """`queries` queries of 5-12 documents (one of 1 when `single`), grades 0-4, 20 features."""
    rng = np.random.default_rng(seed)
    qids = tuple(int(q) for q in rng.choice(np.arange(100, 1000), size=queries, replace=False))
    sizes = [int(s) for s in rng.integers(5, 13, size=queries)]
    if single:
        sizes[4] = 1
    rows = sum(sizes)
    grades = tuple(float(g) for g in rng.integers(0, 5, size=rows))
    entries = []
    for doc in range(rows):
        entry = {i: float(np.round(rng.normal(scale=2.0), 3)) for i in range(1, DENSE + 1)}
        for i in range(DENSE + 1, FEATURES + 1):
            if i != NEVER and (rng.random() < 0.25 or (doc == 0 and i == FEATURES)):
                entry[i] = float(np.round(rng.uniform(0.5, 50.0), 2))
        entries.append(entry)
    return Letor(qids=qids, sizes=tuple(sizes), grades=grades, entries=tuple(entries))
