"""The staff landing page and the job dashboard: processing state and progress, failure
reasons with the tool's message, warnings, and a retry button. Failure details live here
only; public pages show none of them."""
from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from archive import jobs as job_queue
from archive import pipeline, staff_queries

from ..i18n import say, sentence
from . import archive, bp, found_or_404, staff_required, wants_json


@bp.get("/")
@staff_required()
def home():
    with archive().catalog.session() as s:
        items = staff_queries.webinars(s)
        counts = staff_queries.counts(s)
    return render_template("staff/home.html", webinars=items, counts=counts, q=staff_queries)


@bp.get("/jobs")
@staff_required()
def jobs():
    state = request.args.get("state") or None
    if state not in (None, *staff_queries.JOB_STATES):
        abort(404)
    with archive().catalog.session() as s:
        rows = staff_queries.jobs(s, state=state)
        counts = staff_queries.counts(s)
        places = staff_queries.places(s)
        running = staff_queries.running(s)
    return render_template("staff/jobs.html", jobs=rows, counts=counts, state=state, q=staff_queries,
                           places=places, running=running)


@bp.get("/jobs.json")
@staff_required()
def jobs_json():
    """States and progress, for a page that wants to refresh without reloading."""
    with archive().catalog.session() as s:
        rows = staff_queries.jobs(s, state=request.args.get("state") or None,
                                  webinar_id=request.args.get("webinar") or None)
        places = staff_queries.places(s)
        return jsonify(jobs=[{
            "place": places.get(j.id),  # in the queue, 1 next; None unless queued
            "id": j.id, "webinar_id": j.webinar_id, "asset_id": j.asset_id, "upload_id": j.upload_id,
            "filename": j.filename, "kind": j.kind,
            "label": staff_queries.label(j.kind), "state": j.state, "progress": j.progress,
            "attempts": j.attempts, "max_attempts": j.max_attempts, "error": j.error,
            "warnings": staff_queries.job_warnings(j),
        } for j in rows])


@bp.get("/webinars/<webinar_id>")
@staff_required()
def webinar(webinar_id: str):
    with archive().catalog.session() as s:
        w = found_or_404(staff_queries.webinar(s, webinar_id))
        rows = staff_queries.jobs(s, webinar_id=webinar_id)
        places = staff_queries.places(s)
        checking = staff_queries.checking(s, webinar_id)
        running = staff_queries.running(s)
    return render_template("staff/webinar.html", webinar=w, jobs=rows, q=staff_queries, places=places,
                           checking=checking, running=running)


@bp.post("/jobs/<int:job_id>/retry")
@staff_required()
def retry(job_id: int):
    try:
        job = pipeline.retry(archive().catalog, job_id)
    except LookupError:
        abort(404)
    except job_queue.JobStateError as e:
        if wants_json():
            return jsonify(error=say(e.args[0])), 409
        flash(sentence(e.args[0]), "error")
    else:
        if wants_json():
            return jsonify(id=job.id, state=job.state)
        flash(_("Job %(id)d is queued again.", id=job.id), "ok")
    back = request.form.get("back") or ""
    return redirect(back if back.startswith("/staff/") and not back.startswith("//") else url_for("staff.jobs"))
