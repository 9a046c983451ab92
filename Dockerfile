# The webinar-archive app image: the web app, the worker and the CLI are one command.
# Used by docker-compose.yml; build with `docker compose build`.
FROM python:3.11-slim

# ffmpeg/ffprobe for the worker; a font for the title cards of the demo recording.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY archive ./archive
COPY web ./web
RUN pip install --no-cache-dir . \
 && useradd --create-home --uid 10001 archive \
 && mkdir -p /data \
 && chown archive /data

# The catalog (SQLite), scratch space for processing: shared by web and worker.
VOLUME /data
USER archive
EXPOSE 8000
CMD ["webinar-archive", "--help"]
