"""Search: the results page and its JSON twin in the public API (v1)."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from markupsafe import Markup, escape

from archive import search

from .urls import public_base

bp = Blueprint("search", __name__)

PER_PAGE = 10
MAX_PAGE = 100


def _page_number() -> int:
    try:
        return max(1, min(int(request.args.get("page", "1")), MAX_PAGE))
    except ValueError:
        return 1


def _run(per_page: int) -> tuple[str, int, search.Results]:
    q = request.args.get("q", "")[:search.MAX_QUERY_CHARS]
    page = _page_number()
    with current_app.extensions["archive"].catalog.session() as s:
        return q, page, search.search(s, q, limit=per_page, offset=(page - 1) * per_page)


def marked_html(marked: search.Marked) -> Markup:
    """Marked text as HTML: every segment escaped, the matches in <mark>."""
    return Markup("").join(Markup("<mark>%s</mark>") % text if matched else escape(text)
                           for text, matched in marked.segments)


def hit_url(webinar_id: str, hit: search.Hit, base_url: str = "") -> str:
    """Where a hit opens: a caption at its moment, a slide at its page (and moment, when
    known); absolute under `base_url` (the configured public URL) when given."""
    params = {}
    if hit.kind == "slide" and hit.asset_id and hit.page:
        params["slide"] = f"{hit.asset_id}:{hit.page}"
    if hit.at is not None:
        params["t"] = f"{hit.at:g}" if hit.at != int(hit.at) else str(int(hit.at))
    base = base_url + url_for("public.webinar", webinar_id=webinar_id)
    return f"{base}?{urlencode(params, safe=':')}" if params else base


@bp.get("/search")
def page():
    q, number, results = _run(PER_PAGE)
    return render_template("search.html", q=q, page=number, results=results, hit_url=hit_url,
                           marked=marked_html)


@bp.get("/api/v1/search")
def api():
    """Search publicly listed webinars.

    `GET /api/v1/search?q=<query>&page=<n>&per_page=<1..50>` (described in the OpenAPI
    document, `web/openapi.py`). The query is words and
    "quoted phrases" that must all be present, and -words that must not be. Answer:

        {"query": "...", "page": 1, "per_page": 10, "has_more": false,
         "results": [{"id": "...", "title": "...", "held_on": "2021-06-07" | null,
                      "url": "https://.../webinars/<id>",
                      "hits": [{"kind": "webinar" | "speaker" | "slide" | "caption",
                                "page": 37 | null, "at": 151.5 | null,
                                "url": "https://.../webinars/<id>?slide=<deck>:37",
                                "snippet": "… text with <mark>matched</mark> words …"}]}]}

    `snippet` is HTML: the text escaped, the matched words in <mark>. Results are ranked,
    best first; `has_more` says whether page + 1 has any.
    """
    try:
        per_page = max(1, min(int(request.args.get("per_page", PER_PAGE)), 50))
    except ValueError:
        per_page = PER_PAGE
    q, number, results = _run(per_page)
    base_url = public_base()
    return jsonify({
        "query": q, "page": number, "per_page": per_page, "has_more": results.has_more,
        "results": [{
            "id": r.webinar_id,
            "title": r.title.plain,
            "held_on": r.held_on.isoformat() if r.held_on else None,
            "url": base_url + url_for("public.webinar", webinar_id=r.webinar_id),
            "hits": [{"kind": h.kind, "page": h.page, "at": h.at, "url": hit_url(r.webinar_id, h, base_url),
                      "snippet": str(marked_html(h.snippet))} for h in r.hits],
        } for r in results.results],
    })
