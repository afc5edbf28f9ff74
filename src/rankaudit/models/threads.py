"""torch's intra-op thread count for a block of work, in one place.

One thread makes float reductions run in one fixed order, so results do not depend on the
machine's core count (training the demo, every partition of a batch run); small per-request
operations also run faster on one thread than shared between threads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rankaudit.errors import ParameterError

__all__ = ["torch_threads"]


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with `threads` torch intra-op threads (None, or torch not installed:
    leave things as they are). Raises ParameterError for a count below 1."""
    if threads is None:
        yield
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ParameterError(
            f"The 'threads' parameter must be an int >= 1. Got {threads!r} instead."
        )
    try:
        import torch
    except ImportError:  # rankers without torch
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
