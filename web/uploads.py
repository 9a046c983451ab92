"""Staff uploads: the uploader page and the JSON calls Uppy makes while the browser
sends the bytes straight to S3. No media byte passes through here (MAX_CONTENT_LENGTH
stays at 1 MB); these views only start, sign, list, complete, report and abort. The
content of a completed upload is checked by a worker, never in a request."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from archive import captions, queries, uploads
from archive.context import Archive
from archive.states import UploadState
from archive.storage import StorageError

from .i18n import current_language, file_size, say
from .staff import found_or_404, staff_required, state_name

bp = Blueprint("uploads", __name__)

# Parts in flight at once: chromium's connections per host, which the bare script of
# bench/upload.py was fastest at (6 lanes against 4: 81 and 63 MB/s against 65 and 50 in
# two runs of 2026-12-03). A reload or a network cut re-sends at most these parts.
PARALLEL_PARTS = 6
# Files up to this size are kept in the browser (IndexedDB) so that a reload resumes by
# itself; a larger one is chosen again after a reload and then resumes likewise. Copying a
# 2 GB file into IndexedDB halved the upload's speed (bench/upload.py).
RESUME_STORE_BYTES = 1024**3


def _archive() -> Archive:
    return current_app.extensions["archive"]


def _owner() -> str:
    # The account's id, not the session's (get_id also holds the session token, which changes).
    return str(current_user.id) if current_user.is_authenticated else ""


def _part_bytes() -> int:
    """The part size preferred (uploads.part_size may choose larger for a large file)."""
    return current_app.config.get("UPLOAD_PART_BYTES", uploads.PART_BYTES)


def _error(message: str, status: int):
    """A refusal as JSON, its sentence (made in archive/, in English) in the reader's language."""
    return jsonify(error=say(message)), status


def _said(answer: dict) -> dict:
    """An upload as JSON, the reason of a refusal in the reader's language."""
    if answer.get("error"):
        answer["error"] = say(answer["error"])
    return answer


@bp.errorhandler(uploads.UploadNotFound)
def _not_found(e):
    return _error(str(e), 404)


@bp.errorhandler(uploads.UploadRefused)
def _refused(e):
    return _error(str(e), 422)


@bp.errorhandler(StorageError)
def _storage(e):
    current_app.logger.warning("storage error during an upload: %s", e)
    return _error(gettext("the file store is not answering; try again in a moment"), 503)


# Uppy's own words in the page's language: its language packs, vendored (scripts/vendor-js).
UPPY_LOCALES = {"de": "de_DE", "fr": "fr_FR"}


def _uploader_texts(limits: dict, extensions: dict) -> dict:
    """What upload.js says itself, in the page's language ({file}, {language}, {name},
    {status} and Uppy's %{time} are filled in by the page)."""
    listed = {kind: ", ".join(exts) for kind, exts in extensions.items()}
    return {
        "note": gettext("Recordings (%(recording)s), slides (%(slides)s), captions (%(captions)s)", **listed),
        "tooLarge": {kind: gettext("%(file)s is larger than the %(limit)s accepted for %(kind)s", file="{file}",
                                   limit=file_size(limit), kind=state_name(kind))
                     for kind, limit in limits.items()},
        "language": gettext("Language"),
        "languageHint": gettext("a language code, like en, de or pt-BR"),
        "uploading": gettext("Uploading"),
        "offline": gettext("Waiting for the network"),
        "timeLeft": gettext("%(time)s left", time="%{time}"),
        "timeUnknown": gettext("time left unknown"),
        "received": gettext("received; it is being processed"),
        "receivedCaptions": gettext("received (captions in %(language)s); it is being processed", language="{language}"),
        "replacing": gettext("received (captions in %(language)s); it replaces %(name)s (the same language) once it "
                             "is processed", language="{language}", name="{name}"),
        "checking": gettext("uploaded; still being checked, see the webinar’s staff page later"),
        "failed": gettext("the upload failed"),
        "refused": gettext("the file was refused"),
        "answered": gettext("the server answered %(status)s", status="{status}"),
    }


def _json() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise uploads.UploadRefused(gettext("expected a JSON object"))
    return body


@bp.get("/staff/webinars/<webinar_id>/upload")
@staff_required()
def page(webinar_id: str):
    with _archive().catalog.session() as s:
        w = found_or_404(queries.get(s, webinar_id))
    replacing = None
    if request.args.get("replace"):
        replacing = found_or_404(next((a for a in w.served_assets if a.id == request.args["replace"]), None))
    settings = _archive().settings
    limits = {kind: uploads.size_limit(settings, kind) for kind in uploads.KINDS}
    extensions = {kind: sorted(exts) for kind, exts in uploads.EXTENSIONS.items()}
    return render_template(
        "upload.html", webinar=w, replacing=replacing, limits=limits, extensions=extensions,
        texts=_uploader_texts(limits, extensions), uppy_locale=UPPY_LOCALES.get(current_language()),
        parallel=current_app.config.get("UPLOAD_PARALLEL_PARTS", PARALLEL_PARTS),
        resume_store_bytes=current_app.config.get("UPLOAD_RESUME_STORE_BYTES", RESUME_STORE_BYTES))


@bp.post("/staff/uploads")
@staff_required()
def create():
    body = _json()
    size = body.get("size")
    up = uploads.create(_archive(), _owner(), str(body.get("webinar", "")), str(body.get("kind", "")),
                        str(body.get("filename", "")), size if isinstance(size, int) else -1,
                        language=(str(body["language"]) if body.get("language") else None),
                        replaces=(str(body["replaces"]) if body.get("replaces") else None))
    # Uppy's "uploadId" is our record's id: S3's own UploadId never leaves the server. The
    # browser cuts the file in parts of exactly `partBytes` (the last one shorter): only
    # those are signed.
    part = uploads.part_size(up.size, _part_bytes())
    answer = dict(uploadId=up.id, key=up.key, partBytes=part, partCount=uploads.part_count(up.size, part))
    if up.kind == "captions":
        answer["language"] = up.language
        with _archive().catalog.session() as s:
            same = uploads.captions_in(s, up.webinar_id, up.language or "")
        if same is not None and same.id != body.get("replaces"):
            answer["replacing"] = same.original_filename  # said on the page once it is received
    return jsonify(answer), 201


@bp.get("/staff/uploads/caption-language")
@staff_required()
def caption_language():
    """The language a caption file's name gives, as the upload will take it unless staff
    choose another: shown in the uploader before the file goes."""
    return jsonify(language=captions.language_of_name(request.args.get("filename", "")))


@bp.get("/staff/uploads/<upload_id>")
@staff_required()
def status(upload_id: str):
    return jsonify(_said(uploads.get(_archive(), upload_id, _owner()).as_dict()))


@bp.post("/staff/uploads/<upload_id>/parts/<int:part_number>")
@staff_required()
def sign_part(upload_id: str, part_number: int):
    return jsonify(url=uploads.sign_part(_archive(), upload_id, _owner(), part_number, _part_bytes()))


@bp.post("/staff/uploads/<upload_id>/parts")
@staff_required()
def sign_parts(upload_id: str):
    """The URLs of several parts at once: {"numbers": [n, ...]} -> {"urls": {"n": url}}."""
    urls = uploads.sign_parts(_archive(), upload_id, _owner(), _json().get("numbers"), _part_bytes())
    return jsonify(urls={str(n): url for n, url in urls.items()})


@bp.get("/staff/uploads/<upload_id>/parts")
@staff_required()
def list_parts(upload_id: str):
    return jsonify(uploads.list_parts(_archive(), upload_id, _owner()))


@bp.post("/staff/uploads/<upload_id>/complete")
@staff_required()
def complete(upload_id: str):
    """Joins the parts and checks the size only: a worker checks the content. 202 while
    it does (the page then polls `status`), 200 once the file is recorded."""
    up = uploads.complete(_archive(), upload_id, _owner(), _json().get("parts"))
    return (jsonify(**_said(up.as_dict()), page=url_for("public.webinar", webinar_id=up.webinar_id)),
            202 if up.state == UploadState.CHECKING else 200)


@bp.delete("/staff/uploads/<upload_id>")
@staff_required()
def cancel(upload_id: str):
    return jsonify(uploads.abort(_archive(), upload_id, _owner()).as_dict())
