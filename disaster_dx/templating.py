"""One Jinja2 environment for the HTML documents the app writes (printouts, reports, pages).

Every template lives in ``disaster_dx/templates/`` and is loaded from the installed package,
so a wheel carries them. Autoescape is on for ``.html``/``.j2`` templates: values from the
database (shelter names, notes typed by staff) can never become markup, which the hand-built
documents used to ensure with their own copies of an ``_e`` helper.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@cache
def environment() -> Environment:
    """The shared environment (built once): package templates, autoescape, strict names.

    ``StrictUndefined`` makes a misspelt variable an error instead of an empty string, so a
    printout never silently loses a field.
    """
    env = Environment(
        loader=PackageLoader("disaster_dx", "templates"),
        autoescape=select_autoescape(["html", "htm", "j2", "xml"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # ``tojson`` (inert JSON inside <script>): Japanese as itself and compact, in the order
    # given. Jinja still escapes <, >, & and ' so the data cannot close the element.
    env.policies["json.dumps_kwargs"] = {
        "ensure_ascii": False,
        "separators": (",", ":"),
        "sort_keys": False,
    }
    return env


def render(name: str, /, **ctx: Any) -> str:
    """Render the template ``name`` (a path under ``disaster_dx/templates/``) with ``ctx``."""
    return environment().get_template(name).render(**ctx)
