"""Templates compare states with their plain values (the enums of archive/states.py are
StrEnums, equal to those strings): every value a template compares with is a member."""
from __future__ import annotations

import re
from pathlib import Path

from archive.states import AssetStatus, JobState, Visibility

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
ENUMS = {"status": AssetStatus, "state": JobState, "visibility": Visibility}
_COMPARED = re.compile(r"\.(status|state|visibility)\s*(?:==|!=)\s*'([^']*)'")
_IN = re.compile(r"\.(status|state|visibility)\s+(?:not\s+)?in\s+\(([^)]*)\)")
_VISIBILITY_CHOICES = re.compile(r"select\('details', 'visibility', (?:_\()?'[^']*'\)?, \[(.*?)\]\)?, details")


def unknown_states(source: str) -> list[tuple[str, str]]:
    """(attribute, value) pairs a template compares that are no member of the enum."""
    pairs = _COMPARED.findall(source)
    pairs += [(attr, v) for attr, values in _IN.findall(source) for v in re.findall(r"'([^']*)'", values)]
    return [(attr, v) for attr, v in pairs if v not in set(ENUMS[attr])]


def test_the_checker_sees_a_misspelt_state():
    # positive control: a typo, and a value of another enum, are both found
    source = "{% if a.status == 'redy' %}{% endif %}{% if j.state in ('running', 'uploading') %}{% endif %}"
    assert unknown_states(source) == [("status", "redy"), ("state", "uploading")]


def test_templates_compare_only_with_real_states():
    found = {str(p.relative_to(TEMPLATES)): unknown_states(p.read_text()) for p in sorted(TEMPLATES.rglob("*.html"))}
    assert {name: bad for name, bad in found.items() if bad} == {}
    assert sum(len(_COMPARED.findall(p.read_text())) for p in TEMPLATES.rglob("*.html")) > 10


def test_the_visibility_menu_offers_every_visibility():
    form = (TEMPLATES / "staff" / "webinar_form.html").read_text()
    (choices,) = _VISIBILITY_CHOICES.findall(form)
    assert re.findall(r"\('(\w+)', (?:_\()?'", choices) == [v.value for v in Visibility]
