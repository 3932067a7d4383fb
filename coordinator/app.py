"""The app factory: wires settings, storage, service, web and live push."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_socketio import SocketIO
from werkzeug.middleware.proxy_fix import ProxyFix

from . import heap
from .config import Settings
from .geo.runtime import GeoService
from .live import handlers, pings, websocket
from .live.cluster import ClusterLink
from .live.hub import LiveHub
from .live.packets import JsonPacket, WireJson
from .live.queue import RedisQueue
from .live.rooms import LocalManager
from .resources import asset_dir
from .storage import open_service
from .web import api, errors, headers, limits, pages, report_download


def create_app(settings: Settings) -> Flask:
    """Build the app: open the data directory, rebuild state from the log, wire routes.

    The live frame loop is not started here; `start_live(app)` does that, so
    tests and the CLI can build an app without background threads.
    """
    app = Flask(
        __name__,
        static_folder=str(asset_dir("static")),
        template_folder=str(asset_dir("templates")),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_payload_bytes,
        SESSION_COOKIE_NAME="coordinator_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.session_lifetime_s),
        COORDINATOR_SETTINGS=settings,
    )
    if settings.trusted_proxies:
        # Behind the proxy every request comes from its address: take the client's from the
        # headers the trusted proxies set, so per-address limits stay per client.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    service = open_service(
        settings.data_dir,
        stale_after_s=settings.stale_after_s,
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        node_id=settings.node_id,
    )
    app.extensions["coordinator"] = service
    geo = GeoService(settings.data_dir, settings.geo)
    geo.load()
    service.enricher = geo.enrich
    app.extensions["coordinator.geo"] = geo

    manager: LocalManager | RedisQueue = LocalManager()
    if settings.redis_url:
        # An emit that is not marked local reaches the sockets of every node.
        manager = RedisQueue(settings.redis_url, channel=settings.redis_prefix + "socketio")
    socketio = SocketIO(
        app,
        async_mode=settings.async_mode,
        client_manager=manager,
        max_http_buffer_size=settings.max_payload_bytes,
        ping_interval=settings.ping_interval_s,
        # One client's messages are handled in the order sent (a tablet's queue relies on it).
        async_handlers=False,
        # Sessions are read from the cookie on connect; the socket never writes them.
        manage_session=False,
        serializer=JsonPacket,
        json=WireJson,
    )
    # One task sends every socket's heartbeat pings (coordinator/live/pings.py).
    pings.install(socketio.server.eio)
    if settings.async_mode == "gevent":
        # Ours reads frames in the socket's own greenlet (coordinator/live/websocket.py).
        websocket.install(socketio.server.eio)
    hub = LiveHub(socketio, service, settings, geo)
    if settings.redis_url:
        hub.link = ClusterLink(
            redis_url=settings.redis_url,
            prefix=settings.redis_prefix,
            node_id=settings.node_id,
            service=service,
            on_remote_events=hub.remote_events,
        )
    app.extensions["coordinator.hub"] = hub

    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(report_download.bp)
    budget = limits.register(
        app, storage_uri=settings.rate_limit_storage, key_prefix=settings.redis_prefix + "limits"
    )
    handlers.register(socketio, hub, service, budget)
    errors.register(app)
    headers.register(app, tile_url=settings.tile_url)
    return app


def start_live(app: Flask) -> LiveHub:
    """Start the frame loop of an app built by `create_app`, ready to serve."""
    hub: LiveHub = app.extensions["coordinator.hub"]
    heap.settle()
    hub.start()
    return hub


def socketio_of(app: Flask) -> SocketIO:
    sio: SocketIO = app.extensions["socketio"]
    return sio
