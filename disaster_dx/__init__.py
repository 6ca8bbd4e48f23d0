"""disaster_dx: disaster-response GIS for Japanese municipalities (first: Nankoku City).

The domain core (everything here except :mod:`disaster_dx.web`) imports no Dash or Flask, so it
can be used from the CLI, tests, benchmarks and background workers alike.
"""

__version__ = "0.1.0"
