"""Headers every Flask answer carries unless its route set its own (staff pages, login, API).

Dash's pages run inline scripts, so a full Content-Security-Policy would break them; what is
safe everywhere is set here: no framing by other sites (``frame-ancestors 'self'`` and
``X-Frame-Options: SAMEORIGIN``, against clickjacking of HQ's buttons), no plugins, no
``<base>`` from elsewhere, no MIME sniffing, and no full URL (with a shelter id or a search)
in the Referer sent to other sites. The public page and the phone form set stricter policies
of their own, which are kept.
"""

from __future__ import annotations

from flask import Flask, Response

DEFAULTS = {
    "Content-Security-Policy": "frame-ancestors 'self'; object-src 'none'; base-uri 'self'",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _defaults(response: Response) -> Response:
    for name, value in DEFAULTS.items():
        response.headers.setdefault(name, value)
    return response


def init_headers(server: Flask) -> None:
    """Add :data:`DEFAULTS` to every answer of ``server`` that lacks them."""
    server.after_request(_defaults)
