"""Signing in to the staff area, and who may do what there: every /staff route against
anonymous visitors, editors and admins, with the real configuration (CSRF on)."""
from __future__ import annotations

import http.cookiejar
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from flask import url_for

from archive import accounts
from archive.config import DEVELOPMENT_SESSION_KEY, ConfigError
from archive.context import Archive
from archive.importer import ImportRequest, import_webinar
from archive.models import Job
from web import create_app

from ..services import archive_env, free_port, stop_process, wait_http
from .staff_client import PASSWORD, add_user, csrf_token, login, post

CLI = Path(sys.executable).parent / "webinar-archive"  # the console script pip installed

# Who may use each staff endpoint. A new /staff route fails
# test_every_staff_route_is_in_the_table until it is added here.
ACCESS = {
    "staff.login": "anyone", "staff.login_post": "anyone", "staff.logout": "anyone",
    "staff.home": "staff", "staff.jobs": "staff", "staff.jobs_json": "staff",
    "staff.webinar": "staff", "staff.retry": "staff", "staff.statistics": "staff",
    "staff.users": "admin", "staff.add_user": "admin", "staff.set_role": "admin",
    "staff.deactivate": "admin", "staff.activate": "admin",
    "staff.delete_webinar": "staff", "staff.delete_webinar_post": "staff", "staff.remove_file": "staff",
    "staff.new_webinar": "staff", "staff.create_webinar": "staff", "staff.edit_webinar": "staff",
    "staff.save_webinar": "staff", "staff.publish": "staff", "staff.unpublish": "staff",
    "staff.add_speaker": "staff", "staff.save_speaker": "staff", "staff.remove_speaker": "staff",
    "staff.move_speaker": "staff", "staff.add_presentation": "staff", "staff.save_presentation": "staff",
    "staff.remove_presentation": "staff", "staff.move_presentation": "staff", "staff.set_timestamps": "staff",
    "staff.photo_start": "staff", "staff.photo_finish": "staff", "staff.photo_remove": "staff",
    "uploads.page": "staff", "uploads.create": "staff", "uploads.status": "staff", "uploads.sign_part": "staff",
    "uploads.sign_parts": "staff", "uploads.list_parts": "staff", "uploads.complete": "staff", "uploads.cancel": "staff",
    "uploads.caption_language": "staff", "staff.set_caption_language": "staff",
    "staff.slide_times": "staff", "staff.edit_slide_times": "staff",
    "staff.edit_transcript": "staff", "staff.save_transcript": "staff",
}
JSON_ONLY = {"staff.jobs_json", "uploads.caption_language", "uploads.create", "uploads.status", "uploads.sign_part",
             "uploads.sign_parts", "uploads.list_parts",
             "uploads.complete", "uploads.cancel", "staff.photo_start", "staff.photo_finish"}
# Routes about an object this test's webinar does not hold (a presentation, a caption file):
# staff who are let in get "not found", never a refusal.
ABOUT_MISSING = {"staff.slide_times", "staff.edit_slide_times", "staff.edit_transcript", "staff.save_transcript"}


def staff_routes(app) -> list[tuple[str, str, object]]:
    """(endpoint, method, rule) for every /staff rule and method; logout last."""
    found = [(r.endpoint, m, r) for r in app.url_map.iter_rules() if r.rule.startswith("/staff")
             for m in sorted(r.methods - {"HEAD", "OPTIONS"})]
    return sorted(found, key=lambda f: (f[0] == "staff.logout", f[0], f[1]))


def test_the_real_configuration_protects_sessions_and_forms(archive):
    app = create_app(archive)
    assert app.config["WTF_CSRF_ENABLED"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_SECURE"] is False  # served over http here


def test_the_app_refuses_the_published_development_key_once_reachable_from_elsewhere(archive, minio, tmp_path):
    published = archive.settings.with_(secret_key=DEVELOPMENT_SESSION_KEY)
    with pytest.raises(ConfigError, match="WEBINAR_ARCHIVE_SECRET_KEY is a development secret .*"
                                          "the public URL \\(http://archive.test\\) is not on this machine"):
        create_app(Archive(settings=published, catalog=archive.catalog, store=archive.store))
    on_loopback = published.with_(public_url="http://127.0.0.1:8000")  # a developer's own machine
    create_app(Archive(settings=on_loopback, catalog=archive.catalog, store=archive.store))
    env = {**archive_env(minio, tmp_path), "WEBINAR_ARCHIVE_DATABASE_URL": archive.settings.database_url,
           "WEBINAR_ARCHIVE_SECRET_KEY": DEVELOPMENT_SESSION_KEY, "WEBINAR_ARCHIVE_PUBLIC_URL": "http://127.0.0.1:8000"}
    r = subprocess.run([str(CLI), "serve", "--host", "0.0.0.0", "--port", str(free_port())], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "the address served on ('0.0.0.0') is not" in r.stderr


def test_every_staff_route_is_in_the_table(app):
    assert {endpoint for endpoint, _, _ in staff_routes(app)} == set(ACCESS)


@pytest.fixture
def people(archive):
    admin = add_user(archive, "admin@example.org", "admin")
    editor = add_user(archive, "editor@example.org", "editor")
    return {"admin": admin, "editor": editor}


@pytest.fixture
def queued_job(archive, inputs) -> tuple[int, str]:
    """A webinar whose first job waits in the queue (no worker runs here)."""
    w = import_webinar(archive, ImportRequest(title="A webinar", recording=inputs["h264_aac.mp4"]))
    with archive.catalog.session() as s:
        return s.query(Job).join(Job.asset).filter_by(webinar_id=w.id).one().id, w.id


@pytest.mark.parametrize("role", ["anonymous", "editor", "admin"])
def test_each_role_gets_what_it_may_on_every_staff_route(app, archive, people, queued_job, role):
    job_id, webinar_id = queued_job
    with archive.catalog.session() as s:
        asset_id = s.get(Job, job_id).asset_id
    client = app.test_client()
    if role != "anonymous":
        assert login(client, f"{role}@example.org").status_code == 302
    wrong: list[str] = []
    for endpoint, method, rule in staff_routes(app):
        target = add_user(archive, f"target-{secrets.token_hex(4)}@example.org")
        values = {"webinar_id": webinar_id, "job_id": job_id, "user_id": target, "upload_id": "nosuchupload",
                  "part_number": 1, "asset_id": asset_id, "speaker_id": "nosuchspeaker",
                  "presentation_id": "nosuchpresentation"}
        with app.test_request_context():
            url = url_for(endpoint, **{a: values[a] for a in rule.arguments})
        data = {"role": "editor", "email": f"new-{secrets.token_hex(4)}@example.org", "password": PASSWORD}
        headers = {"Accept": "application/json"} if endpoint in JSON_ONLY else {}
        if method == "GET":
            r = client.get(url, headers=headers)
        elif endpoint in JSON_ONLY:  # what the uploader's JavaScript sends
            r = client.open(url, method=method, json={}, headers={
                **headers, "X-CSRFToken": csrf_token(client, "/staff/" if role != "anonymous" else "/staff/login")})
        else:
            r = post(client, url, data, headers=headers)
        need = ACCESS[endpoint]
        if need == "anyone":
            ok = r.status_code < 500 and r.status_code != 403
        elif role == "anonymous":
            ok = (r.status_code == 401 if endpoint in JSON_ONLY else
                  r.status_code == 302 and r.location.startswith("/staff/login?next="))
        elif need == "admin" and role == "editor":
            ok = r.status_code == 403
        elif endpoint in JSON_ONLY:  # let in: an answer about the (made-up) upload, not a refusal
            ok = r.status_code < 500 and r.status_code not in (401, 403)
        elif endpoint in ABOUT_MISSING:
            ok = r.status_code == 404
        else:
            ok = r.status_code in (200, 302)
        if not ok:
            wrong.append(f"{role} {method} {url}: {r.status_code} {r.location or ''}")
    assert wrong == []
    # Nothing an editor or a visitor sent changed the accounts.
    with archive.catalog.session() as s:
        made = [u for u in accounts.list_users(s) if u.email.startswith("new-")]
        deactivated = [u for u in accounts.list_users(s) if not u.active]
    if role == "admin":
        assert made and deactivated
    else:
        assert made == [] and deactivated == []
    # No confirmation was sent: the webinar and its file are still there.
    with archive.catalog.session() as s:
        assert s.get(Job, job_id) is not None and s.get(Job, job_id).asset is not None


def test_login_goes_back_to_the_page_asked_for_and_logout_ends_the_session(client, people):
    r = client.get("/staff/jobs?state=failed")
    assert r.status_code == 302 and r.location == "/staff/login?next=/staff/jobs?state%3Dfailed"
    page = client.get(r.location).get_data(as_text=True)
    assert 'name="next" value="/staff/jobs?state=failed"' in page
    r = login(client, "EDITOR@example.org", next="/staff/jobs?state=failed")
    assert (r.status_code, r.location) == (302, "/staff/jobs?state=failed")
    page = client.get("/staff/").get_data(as_text=True)
    assert "editor@example.org" in page and "Log out" in page
    assert "/staff/users" not in page  # no Accounts link for an editor
    r = post(client, "/staff/logout")
    assert (r.status_code, r.location) == (302, "/staff/login")
    assert client.get("/staff/").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/staff/", "/\\evil.example",
                                    "javascript:alert(1)"])
def test_login_never_sends_anyone_to_another_site(client, people, target):
    r = login(client, "editor@example.org", next=target)
    assert (r.status_code, r.location) == (302, "/staff/")


def test_a_wrong_password_is_refused(client, people):
    r = login(client, "editor@example.org", "not the password at all")
    assert r.status_code == 401
    assert "Wrong e-mail address or password." in r.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302


def _app_with(archive: Archive, **settings):
    """Another app (another web process) on the same catalog, with these settings."""
    return create_app(Archive(settings=archive.settings.with_(**settings), catalog=archive.catalog,
                              store=archive.store))


def _from(app, address: str, **headers):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    client.environ_base.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    return client


def test_failed_sign_ins_are_limited_per_client_and_per_account_in_all_processes(archive, people):
    # Two web processes (apps with their own counters) count together, in the catalog.
    first, second = (_app_with(archive, login_client_failures=3, login_account_failures=5) for _ in range(2))
    attacker = [_from(first, "192.0.2.1"), _from(second, "192.0.2.1")]
    answers = [login(attacker[i % 2], "editor@example.org", "wrong password, again").status_code
               for i in range(16)]
    assert answers == [401] * 3 + [429] * 13
    r = login(attacker[0], "editor@example.org")  # a throttled client waits, right password included
    assert r.status_code == 429 and "Too many sign-in attempts" in r.get_data(as_text=True)
    assert login(attacker[1], "admin@example.org").status_code == 429  # whatever the account
    # The account's owner, from another client, is not refused because that one is throttled.
    owner = _from(second, "198.51.100.7")
    assert login(owner, "editor@example.org").status_code == 302
    assert owner.get("/staff/").status_code == 200
    # Failures from several clients add up per account: then the account waits a while.
    for address in ("192.0.2.2", "192.0.2.3"):
        assert login(_from(first, address), "editor@example.org", "wrong password").status_code == 401
    assert login(_from(second, "203.0.113.9"), "editor@example.org").status_code == 429
    assert login(_from(first, "203.0.113.9"), "admin@example.org").status_code == 302


def _sign_in_over_http(base: str, email: str, password: str) -> int:
    """One sign-in through the form over a new connection, as a browser would: the status."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    page = opener.open(f"{base}/staff/login", timeout=30).read().decode()
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
    form = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token}).encode()
    try:
        return opener.open(f"{base}/staff/login", data=form, timeout=30).status
    except urllib.error.HTTPError as e:
        return e.code


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_the_workers_of_one_gunicorn_share_the_count(archive, people, minio, tmp_path):
    port = free_port()
    env = {**archive_env(minio, tmp_path), "WEBINAR_ARCHIVE_DATABASE_URL": archive.settings.database_url,
           "WEBINAR_ARCHIVE_LOGIN_CLIENT_FAILURES": "3", "WEBINAR_ARCHIVE_LOGIN_ACCOUNT_FAILURES": "100"}
    with open(tmp_path / "serve.log", "wb") as log:
        server = subprocess.Popen([str(CLI), "serve", "--port", str(port), "--workers", "2", "--threads", "1"],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/api/health")
            answers = [_sign_in_over_http(base, "editor@example.org", "wrong password") for _ in range(16)]
            right = _sign_in_over_http(base, "editor@example.org", PASSWORD)
        finally:
            stop_process(server)
    assert answers == [401] * 3 + [429] * 13, (tmp_path / "serve.log").read_text()[-2000:]
    assert right == 429


@pytest.mark.parametrize("trusted", [0, 1])
def test_x_forwarded_for_is_believed_only_through_trusted_proxies(archive, people, trusted):
    app = _app_with(archive, trusted_proxies=trusted, login_client_failures=2, login_account_failures=50)
    for n in range(2):  # a client that names itself anew each time
        client = _from(app, "127.0.0.1", x_forwarded_for=f"192.0.2.{n + 10}")
        assert login(client, "editor@example.org", "wrong password").status_code == 401
    r = login(_from(app, "127.0.0.1", x_forwarded_for="192.0.2.99"), "editor@example.org")
    # Without a trusted proxy the header is the client's word: all were one client (the socket's
    # address), now throttled. Behind one proxy it is the proxy's word: another client.
    assert r.status_code == (429 if trusted == 0 else 302)


def test_state_changes_without_the_csrf_token_are_refused(client, archive, people, queued_job):
    job_id, _ = queued_job
    r = client.post("/staff/login", data={"email": "admin@example.org", "password": PASSWORD})
    assert r.status_code == 400
    assert login(client, "admin@example.org").status_code == 302
    r = client.post("/staff/users", data={"email": "x@example.org", "password": PASSWORD, "role": "admin"})
    assert r.status_code == 400
    r = client.post(f"/staff/jobs/{job_id}/retry", json={})  # a JSON call without X-CSRFToken
    assert r.status_code == 400 and "CSRF" in r.get_json()["error"]
    r = client.post(f"/staff/jobs/{job_id}/retry", json={}, headers={"X-CSRFToken": csrf_token(client)})
    assert r.status_code == 409 and "only a failed or done job" in r.get_json()["error"]  # reached the view
    with archive.catalog.session() as s:
        assert accounts.by_email(s, "x@example.org") is None


def test_cookies_are_secure_over_https(archive, people):
    https = Archive(settings=archive.settings.with_(public_url="https://archive.example"),
                    catalog=archive.catalog, store=archive.store)
    client = create_app(https).test_client()
    r = login(client, "editor@example.org")
    assert r.status_code == 302
    cookie = r.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_deactivated_account_is_signed_out_at_its_next_request(client, archive, people):
    assert login(client, "editor@example.org").status_code == 302
    assert client.get("/staff/").status_code == 200
    with archive.catalog.transaction() as s:
        accounts.deactivate(s, accounts.find(s, "editor@example.org"))
    assert client.get("/staff/").status_code == 302
    assert login(client, "editor@example.org").status_code == 401


def _saved_cookie(client) -> str:
    return client.get_cookie("session").value


def _replay(app, cookie: str):
    """A new client presenting a session cookie saved earlier (as a thief would)."""
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def test_sign_out_a_new_password_or_role_and_deactivation_end_the_saved_sessions(app, archive, people):
    admin = app.test_client()
    assert login(admin, "admin@example.org").status_code == 302

    def change_password(user_id):
        with archive.catalog.transaction() as s:
            accounts.set_password(s, accounts.get(s, user_id), PASSWORD)  # even the same one

    ends = {
        "sign-out": lambda client, _: post(client, "/staff/logout"),
        "password": lambda _, user_id: change_password(user_id),
        "role": lambda _, user_id: post(admin, f"/staff/users/{user_id}/role", {"role": "admin"}),
        "deactivation": lambda _, user_id: post(admin, f"/staff/users/{user_id}/deactivate"),
    }
    for what, end in ends.items():
        email = f"{what}@example.org"
        user_id = add_user(archive, email)
        client, elsewhere = app.test_client(), app.test_client()
        assert login(client, email).status_code == 302 and login(elsewhere, email).status_code == 302
        saved = _saved_cookie(client)
        assert _replay(app, saved).get("/staff/").status_code == 200
        end(client, user_id)
        assert _replay(app, saved).get("/staff/").status_code == 302, what
        assert elsewhere.get("/staff/").status_code == 302, what  # every session of the user
        assert admin.get("/staff/users").status_code == 200  # not another user's
    assert login(app.test_client(), "sign-out@example.org").status_code == 302  # signing in again works


def test_a_session_forged_with_the_published_development_key_opens_nothing(app, archive, people):
    from flask.sessions import SecureCookieSessionInterface

    from archive.config import DEVELOPMENT_SESSION_KEY

    assert app.config["SECRET_KEY"] != DEVELOPMENT_SESSION_KEY  # the tests make a key, as scripts/run does
    with archive.catalog.session() as s:
        session_id = accounts.get(s, people["admin"]).get_id()  # even knowing the user's token
    forger = create_app(archive, {"SECRET_KEY": DEVELOPMENT_SESSION_KEY})
    cookie = SecureCookieSessionInterface().get_signing_serializer(forger).dumps(
        {"_user_id": session_id, "_fresh": True})
    assert _replay(app, cookie).get("/staff/users").status_code == 302
    assert _replay(forger, cookie).get("/staff/users").status_code == 200  # the forgery itself is sound


def test_admins_manage_accounts_from_the_accounts_page(client, archive, people):
    assert login(client, "admin@example.org").status_code == 302
    r = post(client, "/staff/users", {"email": "New.Person@Example.org", "password": PASSWORD, "role": "editor"})
    assert r.status_code == 302
    page = client.get("/staff/users").get_data(as_text=True)
    assert "Added new.person@example.org (editor)." in page
    with archive.catalog.session() as s:
        new = accounts.find(s, "new.person@example.org")
    post(client, f"/staff/users/{new.id}/role", {"role": "admin"})
    post(client, f"/staff/users/{new.id}/deactivate")
    post(client, f"/staff/users/{people['admin']}/deactivate")  # now the last active admin
    assert "The last active admin cannot be deactivated." in client.get("/staff/users").get_data(as_text=True)
    with archive.catalog.session() as s:
        new = accounts.find(s, "new.person@example.org")
        assert (new.role, new.active) == ("admin", False)
        assert accounts.find(s, "admin@example.org").active


def test_every_public_page_has_a_staff_login_link(client):
    page = client.get("/").get_data(as_text=True)
    assert '<a href="/staff/login"' in page and "Staff login" in page


def test_the_first_admin_comes_from_the_command_line(client, archive, minio, tmp_path):
    env = {**archive_env(minio, tmp_path), "WEBINAR_ARCHIVE_DATABASE_URL": archive.settings.database_url}

    def cli(*args, stdin: str = ""):
        return subprocess.run([str(CLI), "user", *args], env=env, input=stdin, capture_output=True,
                              text=True, timeout=60)

    r = cli("add", "Admin@Example.org", "--admin", stdin=PASSWORD + "\n")  # not a TTY: one line on stdin
    assert r.returncode == 0, r.stderr
    assert "added admin@example.org (admin)" in r.stdout and PASSWORD not in r.stdout + r.stderr
    assert login(client, "admin@example.org").status_code == 302
    assert "admin@example.org · admin" in client.get("/staff/users").get_data(as_text=True)

    r = cli("add", "ADMIN@example.org", stdin=PASSWORD + "\n")
    assert (r.returncode, r.stderr.strip()) == (2, "webinar-archive user add: there is already an account "
                                                   "for 'admin@example.org'")
    r = cli("add", "ed@example.org", "--editor", stdin="short\n")
    assert r.returncode == 2 and "at least 12 characters" in r.stderr
    assert cli("add", "ed@example.org", "--editor", stdin=PASSWORD + "\n").returncode == 0
    r = cli("list")
    assert r.returncode == 0
    assert [line.split()[:3] for line in r.stdout.splitlines()] == [
        ["admin@example.org", "admin", "active"], ["ed@example.org", "editor", "active"]]
    r = cli("set-role", "admin@example.org", "editor")
    assert r.returncode == 2 and "the last active admin cannot stop being one" in r.stderr
    assert cli("set-role", "ed@example.org", "admin").returncode == 0
    assert cli("deactivate", "Ed@Example.org").returncode == 0
    assert client.get("/staff/users").status_code == 200  # the other admin is unaffected
    other = client.application.test_client()
    assert login(other, "ed@example.org").status_code == 401
    r = subprocess.run([str(CLI), "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert re.search(r"^\s+user\s+\w", r.stdout, re.M)


def test_an_upload_stays_its_owners_across_sessions(archive, webinar_id):
    from ..staff import signed_in, staff_app

    app = staff_app(archive)
    client = signed_in(app)
    r = client.post("/staff/uploads", json={"webinar": webinar_id, "kind": "slides", "filename": "deck.pdf",
                                            "size": 1000})
    assert r.status_code == 201, r.json
    upload_id = r.json["uploadId"]
    assert post(client, "/staff/logout").status_code == 302  # the session token changes
    again = signed_in(app)
    assert again.get(f"/staff/uploads/{upload_id}/parts").status_code == 200  # the account owns it, still
