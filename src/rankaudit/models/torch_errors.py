"""How the `torch` kind words errors: exception messages on one line, and what user code raised
(``SystemExit`` included) as a ModelLoadError. Split from `torch_ranker`."""

from __future__ import annotations

from rankaudit.errors import ModelLoadError

__all__ = ["one_line", "user_code_error"]


def one_line(exc: BaseException, limit: int = 300) -> str:
    """Return an exception's message on one line, shortened; torch messages span many lines."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def user_code_error(exc: BaseException, what: str) -> BaseException:
    """Return the ModelLoadError for `exc`, raised by user code while `what`; a
    KeyboardInterrupt is returned as it is (the user stopped the run). SystemExit and the other
    BaseExceptions become errors too: a factory calling sys.exit(0) must not pass as success."""
    if isinstance(exc, KeyboardInterrupt):
        return exc
    return ModelLoadError(f"{what}: {type(exc).__name__}: {one_line(exc)}")
