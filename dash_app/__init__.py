"""The rankaudit web app: a thin Dash layer over `rankaudit.views` and `rankaudit.figures`.

`create_app(session)` builds the app; `serve` runs it under waitress (see `dash_app.server`).
"""

from dash_app.app import create_app

__all__ = ["create_app"]
