"""Views, plays and downloads over time and the most watched webinars, for staff. The
chart is an SVG drawn here: no script, no third-party library."""
from __future__ import annotations

import datetime as dt

from flask import current_app, render_template, request

from archive import analytics

from . import archive, bp, staff_required

PERIODS = {"7": 7, "30": 30, "90": 90, "365": 365}
CHART_W, CHART_H, PAD = 720, 220, 28


def chart(days: list[tuple[dt.date, dict[str, int]]]) -> dict:
    """Polylines (one per event) and axis labels for an SVG of the given days."""
    top = max([1] + [c[e] for _, c in days for e in analytics.EVENTS])
    n = max(1, len(days) - 1)

    def point(i: int, v: int) -> str:
        x = PAD + (CHART_W - 2 * PAD) * i / n
        y = CHART_H - PAD - (CHART_H - 2 * PAD) * v / top
        return f"{x:.1f},{y:.1f}"

    lines = {e: " ".join(point(i, c[e]) for i, (_, c) in enumerate(days)) for e in analytics.EVENTS}
    return {"lines": lines, "top": top, "first": days[0][0], "last": days[-1][0],
            "width": CHART_W, "height": CHART_H, "pad": PAD}


@bp.get("/statistics")
@staff_required()
def statistics():
    period = request.args.get("days", "30")
    days = PERIODS.get(period, 30)
    since = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=days - 1)
    current_app.extensions["tally"].flush()  # this process's latest counts too
    with archive().catalog.session() as s:
        series = analytics.per_day(s, since)
        top = analytics.top_webinars(s, since)
    totals = {e: sum(c[e] for _, c in series) for e in analytics.EVENTS}
    return render_template("staff/statistics.html", chart=chart(series), top=top, totals=totals,
                           days=days, periods=PERIODS)
