"""Mappings between our vocabulary and the outside ones, in one place, both ways.

Japan has no single shelter-status vocabulary. Ours (:mod:`disaster_dx.model`) is the finest;
outside vocabularies are coarser, so mapping out can lose detail (``preparing`` becomes L-Alert
未開設) and mapping back gives the coarse term's meaning. Each table below is the one truth
for its vocabulary; tests check every term both ways.
"""

from __future__ import annotations

from disaster_dx.model import Crowding, OpenState

#: L-Alert (公共情報コモンズ) 避難所情報 ``Sort`` (区分), from our open state.
LALERT_SORT: dict[OpenState, str] = {
    OpenState.NOT_OPEN: "未開設",
    OpenState.PREPARING: "未開設",  # not yet taking evacuees
    OpenState.OPEN: "開設",
    OpenState.CLOSED: "閉鎖",
    OpenState.PERMANENT: "常設",
}
LALERT_SORT_UNKNOWN = "不明"

_LALERT_SORT_IN: dict[str, OpenState | None] = {
    "未開設": OpenState.NOT_OPEN,
    "開設": OpenState.OPEN,
    "閉鎖": OpenState.CLOSED,
    "常設": OpenState.PERMANENT,
    LALERT_SORT_UNKNOWN: None,
}

#: L-Alert 避難所状況 ``Status``, from our crowding. やや混雑 still has room, so it is 空き.
LALERT_STATUS: dict[Crowding, str] = {
    Crowding.AVAILABLE: "空き",
    Crowding.SOMEWHAT_CROWDED: "空き",
    Crowding.CROWDED: "混雑",
    Crowding.FULL: "定員一杯",
}
LALERT_STATUS_UNKNOWN = "不明"

_LALERT_STATUS_IN: dict[str, Crowding | None] = {
    "空き": Crowding.AVAILABLE,
    "混雑": Crowding.CROWDED,
    "定員一杯": Crowding.FULL,
    LALERT_STATUS_UNKNOWN: None,
}

#: VACAN-style crowding levels (1 空き … 4 満員); 0 means "not taking evacuees".
VACAN_LEVEL: dict[Crowding, int] = {
    Crowding.AVAILABLE: 1,
    Crowding.SOMEWHAT_CROWDED: 2,
    Crowding.CROWDED: 3,
    Crowding.FULL: 4,
}
VACAN_NOT_ACCEPTING = 0

_VACAN_IN: dict[int, Crowding] = {level: crowding for crowding, level in VACAN_LEVEL.items()}


def lalert_sort(state: OpenState | None) -> str:
    """L-Alert 区分 for an open state (``None``, unknown, gives 不明)."""
    return LALERT_SORT_UNKNOWN if state is None else LALERT_SORT[state]


def open_state_from_lalert(sort: str) -> OpenState | None:
    """Our open state from an L-Alert 区分 (不明 gives ``None``)."""
    try:
        return _LALERT_SORT_IN[sort.strip()]
    except KeyError:
        known = "/".join(_LALERT_SORT_IN)
        raise ValueError(f"unknown L-Alert 区分 {sort!r}; expected {known}") from None


def lalert_status(crowding: Crowding | None) -> str:
    """L-Alert 避難所状況 for a crowding level (``None``, unknown, gives 不明)."""
    return LALERT_STATUS_UNKNOWN if crowding is None else LALERT_STATUS[crowding]


def crowding_from_lalert(status: str) -> Crowding | None:
    """Our crowding from an L-Alert 避難所状況 (不明 gives ``None``)."""
    try:
        return _LALERT_STATUS_IN[status.strip()]
    except KeyError:
        known = "/".join(_LALERT_STATUS_IN)
        raise ValueError(f"unknown L-Alert 避難所状況 {status!r}; expected {known}") from None


def vacan_level(state: OpenState, crowding: Crowding | None) -> int | None:
    """VACAN-style level: 0 when not accepting evacuees, ``None`` when crowding is unknown."""
    if not state.is_open:
        return VACAN_NOT_ACCEPTING
    return None if crowding is None else VACAN_LEVEL[crowding]


def crowding_from_vacan(level: int) -> Crowding | None:
    """Our crowding from a VACAN-style level (0, not accepting, gives ``None``)."""
    if level == VACAN_NOT_ACCEPTING:
        return None
    try:
        return _VACAN_IN[level]
    except KeyError:
        raise ValueError(f"unknown VACAN-style level {level!r}; expected 0-4") from None
