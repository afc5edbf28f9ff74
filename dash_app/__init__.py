"""The rankaudit web app: a thin Dash layer over `rankaudit.views` and `rankaudit.figures`.

`create_app(session)` builds the app; `serve` runs it under waitress (see `dash_app.server`).
It is imported on first use, so that `python -m dash_app.plotly_bundle` (run by `make`) does
not load the app first.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from dash_app.app import create_app

        return create_app
    raise AttributeError(f"module 'dash_app' has no attribute {name!r}")
