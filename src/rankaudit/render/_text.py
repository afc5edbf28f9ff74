"""The one way a terminal table shows a string from a user file (log, spec, config)."""

from __future__ import annotations

from rich.text import Text

from rankaudit.text import terminal_text

__all__ = ["log_text"]


def log_text(value: object, style: str = "") -> Text:
    """`value` as a rich Text: never read as markup, control characters and bidi overrides
    shown as visible escapes (`rankaudit.text.terminal_text`)."""
    return Text(terminal_text(value), style=style)
