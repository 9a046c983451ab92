"""docker-compose.yml describes the same stack as scripts/run. There is no Docker engine
on the build machines, so these tests read the file and check it against the code:
the settings it sets are the ones archive/config.py reads, the credentials and the
endpoint agree with the MinIO service, and the commands are real CLI commands."""
from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

import archive.config
from archive.config import Settings, read_env_file
from archive.localdev import bucket_policy
from archive.runner import Isolation
from web.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker")
SCALED_SERVICES = ("migrate-scaled", "web-scaled", "worker-scaled")  # the scale-out profile's app services
APP_IMAGE = "webinar-archive:local"
ENV_NAME = re.compile(r"^(WEBINAR_ARCHIVE|AWS)_[A-Z0-9_]+$")
VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?::\?[^}]*)?\}")


@pytest.fixture(scope="module")
def dotenv(tmp_path_factory) -> dict[str, str]:
    """The .env that scripts/compose-env writes: compose's secrets."""
    path = tmp_path_factory.mktemp("compose") / ".env"
    subprocess.run([ROOT / "scripts" / "compose-env", path], check=True, capture_output=True)
    assert path.stat().st_mode & 0o777 == 0o600
    return read_env_file(path)


def interpolate(value, variables: dict[str, str]):
    """What docker compose does to ${VAR}, ${VAR:?message} and $$ in the file."""
    if isinstance(value, dict):
        return {k: interpolate(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, variables) for v in value]
    if isinstance(value, str):
        return VARIABLE.sub(lambda m: "$" if m.group(0) == "$$" else variables[m.group(1)], value)
    return value


@pytest.fixture(scope="module")
def compose(dotenv) -> dict:
    return interpolate(yaml.safe_load((ROOT / "docker-compose.yml").read_text()), dotenv)


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def read_by_config() -> set[str]:
    """Every variable name archive/config.py mentions, taken from its source."""
    tree = ast.parse(Path(archive.config.__file__).read_text())
    return {n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and ENV_NAME.match(n.value)}


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the "KEY=value" form
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def command(service: dict) -> list[str]:
    cmd = service["command"]
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def cli_args(service: dict):
    cmd = command(service)
    assert cmd[0] == "webinar-archive", cmd
    try:
        return build_parser().parse_args(cmd[1:])
    except SystemExit:
        pytest.fail(f"not a valid webinar-archive command: {cmd}")


def published(service: dict, container_port: int) -> int:
    """The host port a service publishes for one of its container ports."""
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            if int(entry["target"]) == container_port:
                return int(entry["published"])
            continue
        *host, target = str(entry).split(":")
        if int(target.split("/")[0]) == container_port:
            return int(host[-1]) if host else container_port
    raise AssertionError(f"port {container_port} is not published")


def minio_api_port(minio: dict) -> int:
    cmd = command(minio)
    address = cmd[cmd.index("--address") + 1] if "--address" in cmd else ":9000"
    return int(address.rsplit(":", 1)[1])


def test_the_stack_has_minio_web_and_worker(services):
    assert {"minio", "web", "worker"} <= services.keys()
    assert services["minio"]["image"].split(":")[0] in ("quay.io/minio/minio", "minio/minio")
    assert ":" in services["minio"]["image"] and not services["minio"]["image"].endswith(":latest")


def test_the_config_reader_is_found():
    names = read_by_config()
    # a sanity check of the parser itself: these are certainly read
    assert {"WEBINAR_ARCHIVE_BUCKET", "WEBINAR_ARCHIVE_DATA", "AWS_ENDPOINT_URL_S3",
            "WEBINAR_ARCHIVE_S3_PUBLIC_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= names


@pytest.mark.parametrize("name", APP_SERVICES + SCALED_SERVICES)
def test_app_services_set_only_variables_the_app_reads(services, name):
    env = environment(services[name])
    ours = {k for k in env if k.startswith(("WEBINAR_ARCHIVE_", "AWS_"))}
    assert ours, f"{name} sets no settings"
    assert ours <= read_by_config(), f"{name} sets variables nothing reads: {ours - read_by_config()}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_settings_point_at_the_minio_service(services, name):
    minio = services["minio"]
    minio_env = environment(minio)
    env = environment(services[name])
    settings = Settings.from_env(env)  # the app reads them without complaint
    settings.refuse_development_secrets()  # and starts: no published secret

    # never the root account: the user minio-init makes, limited to the app's bucket
    assert settings.s3_access_key != minio_env["MINIO_ROOT_USER"]
    assert settings.s3_secret_key != minio_env["MINIO_ROOT_PASSWORD"]
    assert len(minio_env["MINIO_ROOT_PASSWORD"]) >= 8  # MinIO refuses shorter root passwords
    init = environment(services["minio-init"])
    assert (init["APP_USER"], init["APP_SECRET"]) == (settings.s3_access_key, settings.s3_secret_key)
    assert init["BUCKET"] == settings.bucket
    assert json.loads(init["POLICY"]) == bucket_policy(settings.bucket)
    assert init["MC_HOST_local"] == (f"http://{minio_env['MINIO_ROOT_USER']}:{minio_env['MINIO_ROOT_PASSWORD']}"
                                     f"@minio:{minio_api_port(minio)}")

    server_side = urlsplit(settings.s3_endpoint)
    assert server_side.hostname == "minio" and server_side.hostname in services
    assert server_side.port == minio_api_port(minio)
    # The browser reaches MinIO through the port published on the host.
    browser_side = urlsplit(settings.s3_public_endpoint)
    assert browser_side.hostname in ("localhost", "127.0.0.1")
    assert browser_side.port == published(minio, minio_api_port(minio))
    # and MinIO lets pages of the app read from it
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(settings.public_url))
    assert minio_env["MINIO_API_CORS_ALLOW_ORIGIN"] in ("*", origin)


def test_web_and_worker_share_the_catalog_on_a_volume(compose, services):
    web, worker = (Settings.from_env(environment(services[n])) for n in APP_SERVICES)
    assert web.database_url == worker.database_url
    assert web.bucket == worker.bucket
    assert web.database_url.startswith("sqlite:////")
    catalog = Path(web.database_url.removeprefix("sqlite:///"))
    for name in APP_SERVICES:
        mounts = {}
        for v in services[name]["volumes"]:
            source, target = (v["source"], v["target"]) if isinstance(v, dict) else v.split(":")[:2]
            mounts[target] = source
        (target,) = [t for t in mounts if catalog.is_relative_to(t)]
        assert mounts[target] in compose["volumes"], "a named volume, shared by web and worker"
        assert Settings.from_env(environment(services[name])).data_dir.is_relative_to(target)


def test_commands_are_real_cli_commands(services):
    web = cli_args(services["web"])
    assert (web.command, web.host, web.port) == ("serve", "0.0.0.0", 8000)
    assert published(services["web"], web.port)
    assert urlsplit(Settings.from_env(environment(services["web"])).public_url).port == \
        published(services["web"], web.port)
    assert cli_args(services["worker"]).command == "worker"
    for name, service in services.items():
        if service.get("image") == APP_IMAGE and "command" in service:
            cli_args(service)


def test_the_bucket_and_user_are_made_once_with_the_root_account(services):
    init = services["minio-init"]
    assert init["image"].startswith("quay.io/minio/mc:RELEASE.")
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    script = command(init)[-1]
    for step in ('mc mb --ignore-existing "local/$BUCKET"', 'mc admin policy create local "$APP_USER-bucket"',
                 'mc admin user add local "$APP_USER" "$APP_SECRET"',
                 'mc admin policy attach local "$APP_USER-bucket" --user "$APP_USER"'):
        assert step in script


def test_no_minio_console(services):
    minio = services["minio"]
    assert "--console-address" not in command(minio)
    assert environment(minio)["MINIO_BROWSER"] == "off"
    assert [published(minio, minio_api_port(minio))] == [int(str(p).split(":")[0]) for p in minio["ports"]]


def test_web_and_worker_start_after_the_schema_exists(services):
    """Two processes migrating a new SQLite catalog at once can collide: one `migrate`
    runs first, after the bucket and the app's user exist, and both wait for it."""
    migrate = [n for n, s in services.items() if s.get("image") == APP_IMAGE and cli_args(s).command == "migrate"
               and "one-machine" in s["profiles"]]
    assert migrate == ["migrate"]
    assert services["migrate"]["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"
    assert "healthcheck" in services["minio"]
    for name in APP_SERVICES:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_image_installs_the_debian_packages_the_scripts_install():
    """One list, scripts/debian-packages.txt: the image and scripts/lib.sh install it."""
    listed = subprocess.run(["bash", "-c", f"source {ROOT}/scripts/lib.sh && debian_packages"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert {"ffmpeg", "libreoffice-impress", "fonts-crosextra-carlito", "fonts-noto-cjk"} <= set(listed)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^COPY scripts/debian-packages\.txt /tmp/debian-packages\.txt$", dockerfile, re.M)
    assert re.search(r"sed 's/#\.\*//' /tmp/debian-packages\.txt \| xargs apt-get install -y", dockerfile)
    assert "scripts" not in (ROOT / ".dockerignore").read_text().split()
    # the same words come out of the file as the image's sed reads it
    words = subprocess.run(["sh", "-c", f"sed 's/#.*//' {ROOT}/scripts/debian-packages.txt"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert words == listed


def test_secrets_come_from_a_private_dotenv(dotenv):
    compose_text = (ROOT / "docker-compose.yml").read_text()
    secrets = {k: v for k, v in dotenv.items() if k != "COMPOSE_PROFILES"}  # compose's own setting
    assert set(VARIABLE.findall(compose_text)) - {""} == set(secrets)
    assert len(set(secrets.values())) == len(secrets) == 4  # four different secrets
    for ignored in (".gitignore", ".dockerignore"):
        assert ".env" in (ROOT / ignored).read_text().split()


def test_the_image_has_the_command():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    # the project itself, with the PostgreSQL and Redis clients of the scale-out profile
    assert re.search(r"""pip install .*\s"\.\[postgres,redis\]"(\s|$)""", dockerfile)
    # the package data the app needs at run time is in what the image copies
    for folder in ("archive", "web"):
        assert re.search(rf"^COPY {folder} ", dockerfile, re.M)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "data" in ignored and ".venv" in ignored  # never bake local state into the image


def stack(services: dict, name: str) -> dict:
    """The services that run beside `name`: those of its profile and those of none (one
    profile runs at a time: .env names one)."""
    mine = set(services[name].get("profiles", []))
    return {n: s for n, s in services.items() if not s.get("profiles") or mine & set(s["profiles"])}


def networks_of(service: dict) -> set[str]:
    nets = service.get("networks", ["default"])
    return set(nets) if isinstance(nets, (list, dict)) else {nets}


def test_the_worker_reaches_only_minio(compose, services):
    """Docker's seccomp profile refuses bubblewrap's namespaces, so the worker's tools run
    without them: the worker's networks are internal (no route out) and shared with MinIO
    alone, and nothing publishes a port of it."""
    worker = services["worker"]
    declared = compose.get("networks") or {}
    assert networks_of(worker) and all(declared.get(n, {}).get("internal") is True for n in networks_of(worker))
    neighbours = {name for name, s in stack(services, "worker").items()
                  if name != "worker" and networks_of(s) & networks_of(worker)}
    assert neighbours == {"minio"}
    assert "ports" not in worker
    # MinIO is still published for browsers, from a network that is not internal.
    assert any(not declared.get(n, {}).get("internal") for n in networks_of(services["minio"]))


def test_the_worker_is_told_its_tools_run_without_bubblewrap(services):
    worker = Settings.from_env(environment(services["worker"]))
    assert worker.tool_isolation == Isolation.NONE
    # Everything else of the worker's settings is the web app's: one shared list.
    web_env, worker_env = environment(services["web"]), environment(services["worker"])
    assert {k: v for k, v in worker_env.items() if k != "WEBINAR_ARCHIVE_TOOL_ISOLATION"} == web_env
    # The web app runs no tool; if it ever did, it would be refused rather than run in the open.
    assert Settings.from_env(web_env).tool_isolation == Isolation.BWRAP


def profile(services: dict, name: str) -> set[str]:
    return {n for n, s in services.items() if name in s.get("profiles", [])}


def test_docker_compose_up_starts_one_machine_and_minio_serves_both(dotenv, services):
    assert dotenv["COMPOSE_PROFILES"] == "one-machine"  # `docker compose up`
    assert profile(services, "one-machine") == {"migrate", "web", "worker"}
    assert {n for n, s in services.items() if "profiles" not in s} == {"minio", "minio-init"}
    assert all(len(s.get("profiles", [])) <= 1 for s in services.values())  # never both stacks at once
    # the scale-out stack publishes the same port: one profile at a time
    assert published(services["web-scaled"], 8000) == published(services["web"], 8000)


def test_the_scale_out_profile_is_postgresql_redis_gunicorn_and_n_workers(services):
    assert profile(services, "scale-out") == {"postgres", "redis", *SCALED_SERVICES}
    for name in ("postgres", "redis"):
        assert ":" in services[name]["image"] and not services[name]["image"].endswith(":latest")
    web, worker, migrate = (Settings.from_env(environment(services[n]))
                            for n in ("web-scaled", "worker-scaled", "migrate-scaled"))
    # the catalog on the PostgreSQL service, with its account
    pg = environment(services["postgres"])
    url = urlsplit(web.database_url)
    assert url.scheme == "postgresql+psycopg" and url.hostname == "postgres" and url.port == 5432
    assert (url.username, url.password, url.path) == (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"],
                                                      "/" + pg["POSTGRES_DB"])
    assert urlsplit(web.redis_url).hostname == "redis"
    assert web.database_url == worker.database_url == migrate.database_url
    assert web.redis_url == worker.redis_url
    # everything else is the one-machine stack's settings (S3, keys, URLs)
    one = environment(services["web"])
    scaled = environment(services["web-scaled"])
    assert {k: v for k, v in scaled.items() if k not in ("WEBINAR_ARCHIVE_DATABASE_URL", "WEBINAR_ARCHIVE_REDIS_URL")} \
        == {k: v for k, v in one.items() if k != "WEBINAR_ARCHIVE_DATABASE_URL"}
    assert worker.tool_isolation == Isolation.NONE and web.tool_isolation == Isolation.BWRAP
    # gunicorn with several processes, and several workers
    serve = cli_args(services["web-scaled"])
    assert (serve.command, serve.host, serve.port, serve.debug) == ("serve", "0.0.0.0", 8000, False)
    assert serve.workers >= 2
    assert cli_args(services["worker-scaled"]).command == "worker"
    assert services["worker-scaled"]["deploy"]["replicas"] >= 2
    # the schema first, once PostgreSQL answers; then the app
    assert cli_args(services["migrate-scaled"]).command == "migrate"
    assert services["migrate-scaled"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["redis"]
    for name in ("web-scaled", "worker-scaled"):
        assert services[name]["depends_on"]["migrate-scaled"]["condition"] == "service_completed_successfully"


def test_the_scaled_workers_reach_only_minio_postgresql_and_redis(compose, services):
    worker = services["worker-scaled"]
    declared = compose.get("networks") or {}
    assert all(declared.get(n, {}).get("internal") is True for n in networks_of(worker))
    neighbours = {name for name, s in stack(services, "worker-scaled").items()
                  if name != "worker-scaled" and networks_of(s) & networks_of(worker)}
    assert neighbours == {"minio", "postgres", "redis"}
    assert "ports" not in worker
    for name in ("postgres", "redis"):  # nothing publishes or routes out the catalog
        assert "ports" not in services[name]
        assert all(declared.get(n, {}).get("internal") is True for n in networks_of(services[name]))
