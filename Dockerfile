# The webinar-archive app image: the web app, the worker and the CLI are one command.
# Used by docker-compose.yml; build with `docker compose build`.
FROM python:3.11-slim

# The same Debian packages as scripts/run and scripts/test, from one list: ffmpeg,
# LibreOffice (impress) for PPTX/ODP decks, prlimit, bubblewrap, and the fonts decks
# expect. bubblewrap is refused under Docker's default seccomp profile: the compose
# worker runs its tools with WEBINAR_ARCHIVE_TOOL_ISOLATION=none on a network that
# reaches only MinIO (docker-compose.yml); a container given namespaces can use it.
COPY scripts/debian-packages.txt /tmp/debian-packages.txt
RUN apt-get update \
 && sed 's/#.*//' /tmp/debian-packages.txt | xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/debian-packages.txt

WORKDIR /app
COPY pyproject.toml README.md ./
COPY archive ./archive
COPY web ./web
# The PostgreSQL and Redis clients too: the scale-out profile of docker-compose.yml uses them.
RUN pip install --no-cache-dir ".[postgres,redis]" \
 && useradd --create-home --uid 10001 archive \
 && mkdir -p /data \
 && chown archive /data

# The catalog (SQLite; PostgreSQL in the scale-out profile), scratch space for processing.
VOLUME /data
USER archive
EXPOSE 8000
CMD ["webinar-archive", "--help"]
