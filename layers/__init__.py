"""Pure functions from state to map layers (dash-leaflet components, folium maps)."""
