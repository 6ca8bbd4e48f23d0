"""The shared Jinja2 helper: autoescape on, undefined names refused."""

from __future__ import annotations

import pytest
from jinja2 import UndefinedError

from disaster_dx.templating import environment


def test_autoescape_is_on_for_html_and_strings() -> None:
    env = environment()
    out = env.from_string("<p>{{ name }}</p>").render(name='<script>"x"&</script>')
    assert out == "<p>&lt;script&gt;&#34;x&#34;&amp;&lt;/script&gt;</p>"
    assert env.autoescape is not False


def test_undefined_name_is_an_error() -> None:
    with pytest.raises(UndefinedError):
        environment().from_string("{{ missing }}").render()


def test_tojson_is_inert_inside_a_script_and_keeps_japanese() -> None:
    out = (
        environment()
        .from_string("<script>{{ v|tojson }}</script>")
        .render(v={"b": "</script>開設", "a": 1})
    )
    assert out == '<script>{"b":"\\u003c/script\\u003e開設","a":1}</script>'
