"""The one geodesic helper: distances and destinations on GRS80."""

from __future__ import annotations

import numpy as np
import pytest

from disaster_dx.geodesy import destinations, distance_m, distances_m


def test_distance_of_one_minute_of_latitude_in_kochi() -> None:
    # One arc-minute along the meridian at 33.5°N is 1848.4 m on GRS80 (M·π/10800).
    assert distance_m(133.6, 33.5, 133.6, 33.5 + 1 / 60) == pytest.approx(1848.4, abs=0.5)
    assert distance_m(133.6, 33.5, 133.6, 33.5) == 0.0


def test_destinations_go_back_to_the_start_and_many_distances_agree() -> None:
    bearings = np.array([0.0, 45.0, 165.0, 270.0])
    lons, lats = destinations(133.66, 33.5345, bearings, 2000.0)
    assert distances_m(133.66, 33.5345, lons, lats) == pytest.approx([2000.0] * 4, abs=1e-6)
    for lon, lat in zip(lons, lats, strict=True):
        assert distance_m(133.66, 33.5345, lon, lat) == pytest.approx(2000.0, abs=1e-6)
    assert distances_m(133.0, 33.0, [], []).shape == (0,)
