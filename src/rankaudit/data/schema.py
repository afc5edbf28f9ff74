"""The logged-timeline contract: column names, roles and expected dtypes, defined once.

One row per candidate tweet per timeline request. Every other module refers to these names
rather than spelling the strings again.
"""

from __future__ import annotations

from typing import Any, Final

import pandas as pd

__all__ = [
    "AUTHOR_ID",
    "ID_COLUMNS",
    "LABEL_PREFIX",
    "POSITION",
    "REQUEST_ID",
    "REQUIRED_COLUMNS",
    "SERVED_AT",
    "TWEET_ID",
    "TWEET_TEXT",
    "USER_ID",
    "head_of_label",
    "is_label_column",
    "label_column",
]

REQUEST_ID: Final = "request_id"
USER_ID: Final = "user_id"
TWEET_ID: Final = "tweet_id"
AUTHOR_ID: Final = "author_id"
SERVED_AT: Final = "served_at"
POSITION: Final = "position"
TWEET_TEXT: Final = "tweet_text"
LABEL_PREFIX: Final = "label_"

#: Identifier columns; read as strings so that ids from any system compare equal.
ID_COLUMNS: Final = (REQUEST_ID, USER_ID, TWEET_ID, AUTHOR_ID)
#: Columns every log must have.
REQUIRED_COLUMNS: Final = (*ID_COLUMNS, SERVED_AT)
#: Optional columns with a fixed meaning.
OPTIONAL_COLUMNS: Final = (POSITION, TWEET_TEXT)


def label_column(head: str) -> str:
    """Return the label column name of an engagement head (`favorite` -> `label_favorite`)."""
    return f"{LABEL_PREFIX}{head}"


def is_label_column(column: str) -> bool:
    """Return True for a `label_<head>` column."""
    return column.startswith(LABEL_PREFIX) and len(column) > len(LABEL_PREFIX)


def head_of_label(column: str) -> str:
    """Return the head name of a `label_<head>` column."""
    return column[len(LABEL_PREFIX) :]


def is_id_dtype(dtype: Any) -> bool:
    """Ids may be stored as strings or integers."""
    return bool(pd.api.types.is_string_dtype(dtype) or pd.api.types.is_integer_dtype(dtype))
