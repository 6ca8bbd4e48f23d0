"""Old home of the fake LINE API (:mod:`disaster_dx.line.fake`), kept for old imports."""

from __future__ import annotations

from disaster_dx.line.fake import ENDPOINTS as ENDPOINTS
from disaster_dx.line.fake import HOST as HOST
from disaster_dx.line.fake import FakeLineServer as FakeLineServer
from disaster_dx.line.fake import Received as Received
