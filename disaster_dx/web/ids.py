"""Component ids, in one place so layouts, callbacks and browser tests agree."""

OVERVIEW_MAP = "overview-map"
OVERVIEW_SHELTERS = "overview-shelters"
OVERVIEW_OUTLINE = "overview-outline"
OVERVIEW_COUNT = "overview-count"
LANG_LINK = "lang-link"
