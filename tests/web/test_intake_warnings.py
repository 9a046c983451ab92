"""What the import check notices but does not refuse reaches staff: a recording whose data
stops before its declared duration is published with the duration that plays, and the
staff pages say where the data stops, before and after processing."""
from __future__ import annotations

import html
import re

from archive.importer import ImportRequest, import_webinar

from ..cut_short import cut_short
from ..helpers import reload
from .staff_client import add_user, login

WARNING = r"the data stops at 0:0[23]\.\d of 0:06\.0 declared"


def text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def test_staff_see_where_a_cut_recording_stops(client, archive, worker, tmp_path):
    add_user(archive, "editor@example.org", "editor")
    assert login(client, "editor@example.org").status_code == 302
    staff = client
    w = import_webinar(archive, ImportRequest(title="Cut short", recording=cut_short(tmp_path / "cut.mp4")))
    page = text(staff.get(f"/staff/webinars/{w.id}"))
    assert re.search(rf"Warning \(Making the recording watchable\): {WARNING}", page), page
    worker.run_until_idle()
    w = reload(archive, w.id)
    assert w.status == "ready" and 2.0 < w.recording.info["duration"] < 3.5
    page = text(staff.get(f"/staff/webinars/{w.id}"))
    # Once: the fast path restates what the import check recorded, under the same step.
    assert len(re.findall(rf"Warning \(Making the recording watchable\): {WARNING}", page)) == 1, page
    assert re.search(rf"Warning: {WARNING}", text(staff.get("/staff/jobs")))
    assert "ready, with warnings" in staff.get("/staff/").get_data(as_text=True)
