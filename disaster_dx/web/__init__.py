"""Dash pages and Flask routes: the only part of disaster_dx that imports Dash or Flask."""
