"""The Flask front end: an application factory and thin blueprints over `archive`."""
from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from archive.config import Settings
from archive.context import Archive
from archive.formatting import hms


def create_app(archive: Archive | None = None, test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    settings = Settings.from_env() if archive is None else archive.settings
    settings.refuse_development_secrets()  # whoever builds the app: no session signed with a published key
    if archive is None:
        archive = Archive.from_settings(settings)
    if settings.trusted_proxies:
        # The client's address from X-Forwarded-For, through this many proxies only: a
        # client cannot name itself past the proxies we run.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]
    https = archive.settings.public_url.startswith("https://")
    app.config.from_mapping(
        SECRET_KEY=archive.settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,  # staff sessions: cookies only over HTTPS when served so
        REMEMBER_COOKIE_SECURE=https, REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=1024 * 1024,  # metadata only: media never passes through here
        PUBLIC_URL=archive.settings.public_url,
        SITE_NAME="Webinar archive",
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["archive"] = archive
    from archive import throttle

    # Limits and "seen already" counted by every process together (the catalog or Redis).
    counters = throttle.counters_from_settings(settings, archive.catalog)
    app.extensions["counters"] = counters
    app.extensions["sign_in_limits"] = throttle.SignInLimits.from_settings(settings, counters)
    from archive.analytics import Tally

    # Views, plays and downloads: added up in memory, written every few seconds.
    app.extensions["tally"] = Tally(archive.catalog, interval=app.config.get("ANALYTICS_FLUSH_SECONDS", 10.0))

    from . import api, api_v1, browse, i18n, media, public, search, security, staff, syndication, uploads

    app.register_blueprint(public.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api_v1.bp)
    app.register_blueprint(syndication.bp)
    app.register_blueprint(uploads.bp)  # staff uploads, straight to S3
    app.register_blueprint(search.bp)
    app.register_blueprint(browse.bp)  # series, tags, speakers

    @app.context_processor
    def site() -> dict:
        return {"site_name": app.config["SITE_NAME"]}

    security.install(app, archive.store)
    i18n.install(app)
    staff.init_app(app)  # sign-in, CSRF on every state change, login rate limit, /staff
    staff.csrf.exempt(public.played)  # an anonymous count, no session to protect

    @app.template_filter("markdown")
    def markdown(text: str | None):
        from markupsafe import Markup

        from archive.markdown import render

        return Markup(render(text or ""))  # sanitised by nh3 after rendering

    @app.template_filter("duration")
    def duration(seconds: float | None) -> str:
        return "" if seconds is None else hms(seconds)

    return app
