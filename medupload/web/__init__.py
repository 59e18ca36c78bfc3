"""The web perimeter: what every request passes before it reaches Reflex, its socket, /_upload or /api/v1."""
