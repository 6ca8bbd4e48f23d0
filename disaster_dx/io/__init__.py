"""disaster_dx package."""
