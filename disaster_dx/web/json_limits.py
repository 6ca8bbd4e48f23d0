"""JSON request bodies within the nesting limit: a deep body is a 400, never a 500.

Flask (and so Dash's ``/_dash-update-component`` and the API) parses bodies with the app's JSON
provider. Python's ``json`` raises ``RecursionError`` on a few kilobytes of ``[[[[…``, which Flask
would turn into HTTP 500 and a logged traceback per request; this provider turns it, and any
nesting deeper than :attr:`~disaster_dx._parsing.FileLimits.max_depth`, into a ``ValueError``,
which Flask answers with 400 Bad Request.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from disaster_dx._parsing import file_limits, nested_deeper_than


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, refusing bodies nested deeper than the configured limit."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse like Flask; too deep is a ``ValueError`` (Flask's 400), not a crash."""
        max_depth = file_limits().max_depth
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError(f"JSON nested more than {max_depth} levels deep") from None
        if isinstance(value, dict | list) and nested_deeper_than(value, max_depth):
            raise ValueError(f"JSON nested more than {max_depth} levels deep")
        return value


def init_json_limits(server: Flask) -> None:
    """Parse every JSON request body of ``server`` within the nesting limit."""
    server.json = BoundedJSONProvider(server)
