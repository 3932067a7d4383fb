"""Live push over Socket.IO: frames to dashboards, assignments to units."""
