"""Old home of the LINE webhook's logic (:mod:`disaster_dx.line.bot`), kept for old imports."""

from __future__ import annotations

from disaster_dx.geodesy import distances_m as distances_m
from disaster_dx.line.bot import CITY_HALL as CITY_HALL
from disaster_dx.line.bot import MAP_LINK as MAP_LINK
from disaster_dx.line.bot import NEAREST_COUNT as NEAREST_COUNT
from disaster_dx.line.bot import OUTSIDE_CITY_METRES as OUTSIDE_CITY_METRES
from disaster_dx.line.bot import RATE_WINDOW as RATE_WINDOW
from disaster_dx.line.bot import SAMPLES as SAMPLES
from disaster_dx.line.bot import LineBot as LineBot
from disaster_dx.line.bot import Nearby as Nearby
from disaster_dx.line.bot import Reply as Reply
from disaster_dx.line.bot import alert_notice as alert_notice
from disaster_dx.line.bot import first_delivery as first_delivery
from disaster_dx.line.bot import help_reply as help_reply
from disaster_dx.line.bot import how_to_send_location as how_to_send_location
from disaster_dx.line.bot import is_english as is_english
from disaster_dx.line.bot import location_reply as location_reply
from disaster_dx.line.bot import nearest_usable as nearest_usable
from disaster_dx.line.bot import sample_webhook_body as sample_webhook_body
from disaster_dx.line.bot import signature as signature
from disaster_dx.line.bot import slow_down_reply as slow_down_reply
from disaster_dx.line.bot import take_rate_token as take_rate_token
from disaster_dx.line.bot import verify_signature as verify_signature
