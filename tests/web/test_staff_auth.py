"""Signing in to the staff area, and who may do what there: every /staff route against
anonymous visitors, editors and admins, with the real configuration (CSRF on)."""
from __future__ import annotations

import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from flask import url_for

from archive import accounts
from archive.context import Archive
from archive.importer import ImportRequest, import_webinar
from archive.models import Job
from web import create_app

from ..services import archive_env
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
    "uploads.list_parts": "staff", "uploads.complete": "staff", "uploads.cancel": "staff",
}
JSON_ONLY = {"staff.jobs_json", "uploads.create", "uploads.status", "uploads.sign_part", "uploads.list_parts",
             "uploads.complete", "uploads.cancel", "staff.photo_start", "staff.photo_finish"}


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
                  "part_number": 1, "asset_id": asset_id, "speaker_id": "nosuchspeaker"}
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


def test_failed_logins_are_rate_limited_per_address(client, people):
    for _ in range(5):
        assert login(client, "editor@example.org", "wrong password, again").status_code == 401
    r = login(client, "editor@example.org")  # even the right password waits now
    assert r.status_code == 429
    assert "Too many sign-in attempts" in r.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302
    # Another account from the same address is not locked out by it.
    assert login(client, "admin@example.org").status_code == 302


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
    assert "the last active admin cannot be deactivated" in client.get("/staff/users").get_data(as_text=True)
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
