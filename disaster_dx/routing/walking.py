"""Walking times: route metres to minutes at each person's walking speed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from disaster_dx.routing.plane import FloatArray

#: Default walking speeds (m/s) by mobility class. Evacuation-planning guidance commonly uses
#: about 1.0 m/s for an unaided adult and slower speeds for elderly people and wheelchair
#: users; a city may pass its own table to :func:`walking_minutes`.
WALKING_SPEED_M_S: Mapping[str, float] = MappingProxyType(
    {"independent": 1.0, "elderly": 0.7, "wheelchair": 0.5, "with_helper": 0.5}
)


def walking_minutes(
    length_m: ArrayLike,
    mobility: str | Sequence[str] | NDArray[Any],
    *,
    speeds: Mapping[str, float] = WALKING_SPEED_M_S,
) -> FloatArray:
    """Minutes to walk ``length_m`` at the speed of each person's mobility class.

    Parameters
    ----------
    length_m
        Route lengths in metres (``inf`` stays ``inf``: unreachable is never "0 minutes").
    mobility
        One class for everyone, or one per length; keys of ``speeds``.
    speeds
        Walking speed in m/s per class; defaults to :data:`WALKING_SPEED_M_S`.

    Raises
    ------
    ValueError
        If a class is not in ``speeds`` or a speed is not positive.
    """
    lengths = np.asarray(length_m, dtype=float)
    bad_speed = sorted(k for k, s in speeds.items() if not s > 0)
    if bad_speed:
        raise ValueError(f"walking speeds must be > 0 m/s: {', '.join(bad_speed)}")
    classes = np.asarray(mobility)
    known, inverse = np.unique(classes, return_inverse=True)
    unknown = [str(c) for c in known if str(c) not in speeds]
    if unknown:
        raise ValueError(
            f"unknown mobility class(es) {', '.join(map(repr, unknown))}; "
            f"use one of {', '.join(speeds)}"
        )
    speed = np.array([speeds[str(c)] for c in known], dtype=float)[inverse.reshape(classes.shape)]
    return np.asarray(lengths / speed / 60.0, dtype=float)
