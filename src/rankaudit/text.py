"""Strings from user files made safe where they are drawn: in plotly text and in a terminal.

Every string a log, a feature spec or a workspace config supplies (tweet text, tweet, author,
viewer and request ids, category values, feature, group, head and model names) is untrusted.

- Plotly draws hover labels, tick labels, legends, annotations and titles as a small subset of
  HTML: `<br>`, `<b>`, `<i>`, `<a href>`, `<span style>` and entities. `plotly_text` escapes
  `&`, `<` and `>`, so no string can open a tag or spell an entity; plotly shows the entities
  as the characters. Every figure builder (`rankaudit.figures`) escapes each such string once,
  where it puts it into the figure, and its callers (the web app, the report) pass raw
  strings, so nothing is escaped twice.
- A terminal obeys control characters: ESC starts a sequence that can clear the screen, move
  the cursor, set the window title or print a hyperlink (OSC 8), NUL and the other C0/C1
  controls are not text, and the bidi overrides and isolates reorder what follows them
  (CVE-2021-42574). `terminal_text` writes each of them as a visible escape (`\\x1b`,
  `\\u202e`) and keeps every other character, so `rankaudit.render` shows ordinary Unicode as
  logged.

This module imports nothing from rankaudit: every layer may use it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

__all__ = ["BIDI_CONTROLS", "plotly_text", "plotly_texts", "terminal_text"]

#: The bidi embeddings, overrides and isolates: LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI.
BIDI_CONTROLS = frozenset({*range(0x202A, 0x202F), *range(0x2066, 0x206A)})

#: C0 controls, DEL and C1 controls.
_CONTROLS = (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))
_NAMED = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def _visible(code: int) -> str:
    if code in _NAMED:
        return _NAMED[code]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_TERMINAL = str.maketrans({code: _visible(code) for code in (*_CONTROLS, *sorted(BIDI_CONTROLS))})


def plotly_text(value: object) -> str:
    """`value` as text plotly draws literally: `str(value)` with `&`, `<` and `>` written as
    entities (quotes are left alone: without `<` no attribute can be opened)."""
    return html.escape(str(value), quote=False)


def plotly_texts(values: Iterable[object]) -> list[str]:
    """`plotly_text` of each value, in order."""
    return [html.escape(str(value), quote=False) for value in values]


def terminal_text(value: object) -> str:
    """`value` as text a terminal shows without obeying it: `str(value)` with every C0 and C1
    control character and DEL written as `\\xNN` (`\\t`, `\\n`, `\\r` for those three) and every
    bidi embedding, override and isolate as `\\uNNNN`; all other characters are kept."""
    return str(value).translate(_TERMINAL)
