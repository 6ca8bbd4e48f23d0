"""Old home of the LINE message wording (:mod:`disaster_dx.line.text`), kept for old imports."""

from __future__ import annotations

from disaster_dx._time import jst_text as jst_text
from disaster_dx.line.text import DEFAULT_CITY as DEFAULT_CITY
from disaster_dx.line.text import MAX_MESSAGES as MAX_MESSAGES
from disaster_dx.line.text import MAX_TEXT as MAX_TEXT
from disaster_dx.line.text import Site as Site
from disaster_dx.line.text import alert_message_text as alert_message_text
from disaster_dx.line.text import announcement_text as announcement_text
from disaster_dx.line.text import split_text as split_text
from disaster_dx.line.text import status_message_text as status_message_text
from disaster_dx.line.text import text_messages as text_messages
from disaster_dx.line.text import with_lang as with_lang
