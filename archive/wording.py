"""Sentences for people, written in English: archive/ knows no languages.

A sentence that staff or visitors may read (a refusal of a file, of an upload) is made
from a template marked with `N_`: the catalogs of web/ take the templates in (babel.cfg
reads archive/ too), and web/ says the finished sentence in the reader's language by
recognising its template and its values (web/i18n.py `say`). The CLI, the logs and the
catalog keep the English sentence. Values are written into `%(name)s` only.
"""
from __future__ import annotations


def N_(template: str, **values: object) -> str:
    """The English sentence of `template` with `values` (a no-op marker without them)."""
    return template % values if values else template


__all__ = ["N_"]
