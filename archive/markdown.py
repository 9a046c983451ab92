"""Markdown descriptions and bios to safe HTML.

markdown-it-py renders (CommonMark, tables, strikethrough); raw HTML in the source is
allowed through the parser and then everything goes through nh3 (the Ammonia
sanitiser), which keeps an allow-list of tags, attributes and URL schemes. Sanitising
the output, not the input, is what makes it safe whatever the parser does.
"""
from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"])

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "td": {"align"},
    "th": {"align"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def render(text: str) -> str:
    """HTML safe to put in a page as is: no scripts, no event handlers, no
    javascript:/data: URLs; links get rel="noopener noreferrer nofollow"."""
    if not text:
        return ""
    return nh3.clean(_md.render(text), tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="noopener noreferrer nofollow", strip_comments=True)
