"""Who may open a webinar's pages and media. Visitors: a webinar archive/'s VIEWABLE rule
admits (public or unlisted, once its publish time has come). Signed-in staff: every
webinar, to look at it as visitors will before it is published; the page then says who
else can see it (`queries.hidden_from_visitors`)."""
from __future__ import annotations

from flask_login import current_user

from archive import queries
from archive.models import Webinar


def staff_signed_in() -> bool:
    return bool(current_user and current_user.is_authenticated)


def webinar(session, webinar_id: str) -> Webinar | None:
    """The webinar if whoever asks may open it; None otherwise (the caller answers 404)."""
    if staff_signed_in():
        return queries.get(session, webinar_id)
    return queries.viewable(session, webinar_id)
