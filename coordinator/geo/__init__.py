"""Map layers and spatial work: import, enrichment, routing, geofences and coverage.

Geometry is stored in EPSG:4326 and measured in a metric CRS (the local UTM
zone), never in degrees.
"""
