"""The dashboard, the field tablet page and sign-in."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from ..actors import actor_for_user, known_user
from ..domain.errors import DomainError
from ..security import same, verify_password
from .context import csrf_token, service, settings
from .limits import RateLimited, spend_login_attempt

bp = Blueprint("pages", __name__)


def _page_config() -> dict[str, Any]:
    s = settings()
    return {
        "tile_url": s.tile_url,
        "tile_attribution": s.tile_attribution,
        "stale_after_s": s.stale_after_s,
        "frame_interval_s": s.frame_interval_s,
    }


@bp.get("/")
def dashboard() -> str | BaseResponse:
    name = session.get("user")
    if not name:
        return redirect(url_for("pages.login"))
    svc = service()
    try:
        with svc.lock:
            actor = actor_for_user(svc.state, str(name))
    except DomainError:
        session.clear()
        return redirect(url_for("pages.login"))
    return render_template(
        "dashboard.html", config={**_page_config(), "user": actor.view(), "csrf": csrf_token()}
    )


@bp.get("/field")
def field() -> str:
    return render_template("field.html", config=_page_config())


@bp.get("/login")
def login() -> str:
    return render_template("login.html", csrf=csrf_token(), error=None)


@bp.post("/login")
def login_submit() -> tuple[str, int] | BaseResponse:
    try:
        spend_login_attempt()
    except RateLimited as exc:
        return render_template("login.html", csrf=csrf_token(), error=exc.message), 429
    sent = request.form.get("csrf", "")
    if not sent or not same(sent, str(session.get("csrf", ""))):
        return render_template("login.html", csrf=csrf_token(), error="Form expired; try again."), 400
    name = request.form.get("username", "")
    password = request.form.get("password", "")
    credential = known_user(service(), name)
    if credential is None or credential.revoked or not verify_password(credential.secret_hash, password):
        return render_template("login.html", csrf=csrf_token(), error="Wrong name or password."), 401
    session.clear()  # a fresh session id and CSRF token on every sign-in
    session.permanent = True
    session["user"] = name
    csrf_token()
    return redirect(url_for("pages.dashboard"))


@bp.post("/logout")
def logout() -> BaseResponse:
    sent = request.form.get("csrf", "") or request.headers.get("X-CSRF-Token", "")
    if sent and same(sent, str(session.get("csrf", ""))):
        session.clear()
    return redirect(url_for("pages.login"))


@bp.get("/healthz")
def healthz() -> Response:
    svc = service()
    # Fixes received and not yet written: a few ticks' worth, unless the track store lags.
    return Response(f"ok seq={svc.state.seq} fixes_waiting={svc.fixes_waiting}\n", mimetype="text/plain")
