"""Security headers on every answer: scripts only from this server, tiles only from the configured host."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response


def tile_origin(tile_url: str) -> str:
    """Return the scheme and host of a tile URL template (`{s}` subdomains become a wildcard)."""
    if not tile_url:
        return ""
    parts = urlsplit(tile_url.replace("{s}.", "*."))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def content_security_policy(tile_url: str) -> str:
    images = " ".join(filter(None, ["'self'", "data:", tile_origin(tile_url)]))
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            # Leaflet and the boards set inline styles on elements they build.
            "style-src 'self' 'unsafe-inline'",
            f"img-src {images}",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def register(app: Flask, *, tile_url: str) -> None:
    policy = content_security_policy(tile_url)

    @app.after_request
    def secure_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if response.mimetype in ("text/html", "application/json"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
