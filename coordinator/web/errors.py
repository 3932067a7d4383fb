"""Every error becomes a JSON body naming the field, for API callers."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from ..domain.errors import DomainError

log = logging.getLogger(__name__)


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> tuple[Response, int]:
        return jsonify(exc.to_json()), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | tuple[Response, int] | HTTPException:
        if not request.path.startswith("/api/"):
            return exc
        body: dict[str, str] = {"error": exc.description or exc.name}
        if exc.code == 413:
            body = {"error": "request body is over the size limit", "field": "body"}
        return jsonify(body), exc.code or 500

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return jsonify({"error": "internal error"}), 500
