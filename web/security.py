"""Security headers on every response: a Content-Security-Policy without inline script,
no MIME sniffing, no framing (except views marked embeddable), a strict Referrer-Policy."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

from archive.storage import S3Store


def embeddable(view):
    """Lets other sites frame this view (a future embed page); every other page refuses."""
    view.embeddable = True
    return view


def media_origin(store: S3Store) -> str:
    """Where presigned links point (the browser-facing S3 endpoint, or AWS's host):
    the origin of a link signed the way every page signs them. Signing is local."""
    u = urlsplit(store.presigned_get("csp-probe"))
    return f"{u.scheme}://{u.netloc}"


def content_security_policy(media: str, frame_ancestors: str) -> str:
    # hls.js plays through MediaSource (blob: URLs) and fetches segments from S3;
    # media-chrome styles its shadow DOM with <style> elements, hence inline style only.
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        f"img-src 'self' data: blob: {media}",
        f"media-src 'self' blob: {media}",
        f"connect-src 'self' {media}",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors}",
    ])


def install(app: Flask, store: S3Store) -> None:
    policies = {framed: content_security_policy(media_origin(store), "*" if framed else "'none'")
                for framed in (False, True)}

    @app.after_request
    def security_headers(response: Response) -> Response:
        view = current_app.view_functions.get(request.endpoint or "")
        framed = bool(getattr(view, "embeddable", False))
        response.headers["Content-Security-Policy"] = policies[framed]
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if not framed:
            response.headers["X-Frame-Options"] = "DENY"  # browsers without frame-ancestors
        return response
