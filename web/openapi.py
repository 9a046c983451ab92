"""The OpenAPI 3.1 document of the public API (`/api/v1/openapi.json`).

Tests validate the document itself and every real response against its schemas, so the
description cannot drift from what the API answers.
"""
from __future__ import annotations

_NULLABLE_STRING = {"type": ["string", "null"]}
_URL = {"type": "string", "format": "uri"}



def _page_of(schema: str) -> dict:
    return {
        "type": "object",
        "required": ["items", "page", "per_page", "total"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{schema}"}},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
            "total": {"type": "integer", "minimum": 0},
        },
    }


SCHEMAS: dict = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "WebinarSummary": {
        "type": "object",
        "required": ["id", "title", "date", "url", "duration", "has_recording", "slide_decks", "api"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "date": {"type": ["string", "null"], "format": "date"},
            "url": _URL,
            "duration": {"type": ["number", "null"], "description": "seconds"},
            "has_recording": {"type": "boolean"},
            "slide_decks": {"type": "integer", "minimum": 0},
            "api": _URL,
        },
    },
    "WebinarList": {
        "type": "object",
        "required": ["items", "page", "per_page", "total"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/WebinarSummary"}},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
            "total": {"type": "integer", "minimum": 0},
        },
    },
    "Download": {
        "type": "object", "required": ["url"],
        "properties": {"url": _URL, "filename": {"type": "string"}, "size": {"type": "integer"}},
    },
    "Recording": {
        "type": "object",
        "required": ["status", "kind", "duration", "poster", "downloads"],
        "properties": {
            "status": {"enum": ["queued", "processing", "ready", "failed"]},
            "kind": {"enum": ["video", "audio", None]},
            "duration": {"type": ["number", "null"]},
            "poster": {"type": ["string", "null"], "format": "uri"},
            "downloads": {"type": "object", "required": ["original"],
                          "additionalProperties": {"$ref": "#/components/schemas/Download"}},
        },
    },
    "SlideDeck": {
        "type": "object",
        "required": ["id", "title", "filename", "size", "status", "pages", "download", "pdf"],
        "properties": {
            "id": {"type": "string"}, "title": {"type": "string"}, "filename": {"type": "string"},
            "size": {"type": "integer"}, "status": {"enum": ["queued", "processing", "ready", "failed"]},
            "pages": {"type": ["integer", "null"]}, "download": _URL,
            "pdf": {"type": ["string", "null"], "format": "uri"},
        },
    },
    "SlideTimeline": {
        "type": "object",
        "description": "When each page of the presentation's deck is on screen. Stretches where no page is "
                       "shown, or where the match is uncertain, have no segment.",
        "required": ["source", "accepted", "proposed_start", "segments"],
        "properties": {
            "source": {"enum": ["found", "staff"],
                       "description": "found by the archive, or set by staff"},
            "accepted": {"type": "boolean", "description": "staff checked the found changes"},
            "proposed_start": {"type": ["number", "null"],
                               "description": "seconds: the first time one of its pages is on screen"},
            "segments": {"type": "array", "items": {
                "type": "object", "required": ["start", "end", "page", "confidence"],
                "properties": {"start": {"type": "number", "description": "seconds"},
                               "end": {"type": "number", "description": "seconds"},
                               "page": {"type": "integer", "minimum": 1},
                               "confidence": {"type": "number", "minimum": 0, "maximum": 1}}}},
        },
    },
    "Presentation": {
        "type": "object",
        "required": ["id", "title", "speakers", "start", "proposed_start", "slides", "slide_timeline"],
        "properties": {
            "id": {"type": "string"}, "title": {"type": "string"},
            "speakers": {"type": "array", "items": {"type": "string"}},
            "start": {"type": ["number", "null"], "description": "seconds into the recording, set by staff"},
            "proposed_start": {"type": ["number", "null"],
                               "description": "seconds: where its slides first appear, when it has no start"},
            "slides": {"type": ["string", "null"], "description": "the id of its deck in `slides`"},
            "slide_timeline": {"oneOf": [{"$ref": "#/components/schemas/SlideTimeline"}, {"type": "null"}]},
        },
    },
    "Webinar": {
        "allOf": [
            {"$ref": "#/components/schemas/WebinarSummary"},
            {
                "type": "object",
                "required": ["description", "recording", "presentations", "slides", "slides_zip", "captions"],
                "properties": {
                    "description": {"type": "string"},
                    "recording": {"oneOf": [{"$ref": "#/components/schemas/Recording"}, {"type": "null"}]},
                    "presentations": {"type": "array", "items": {"$ref": "#/components/schemas/Presentation"}},
                    "slides": {"type": "array", "items": {"$ref": "#/components/schemas/SlideDeck"}},
                    "slides_zip": {"type": ["string", "null"], "format": "uri"},
                    "captions": {"type": "array", "items": {
                        "type": "object", "required": ["language", "automatic", "url"],
                        "properties": {
                            "language": _NULLABLE_STRING,
                            "automatic": {"type": "boolean",
                                          "description": "made by speech recognition (with the slides' words), not "
                                                         "by a person; listed only for a language without captions "
                                                         "made by a person"},
                            "url": _URL}}},
                },
            },
        ],
    },
    "ApiIndex": {
        "type": "object",
        "required": ["openapi", "webinars", "series", "speakers", "search", "description"],
        "properties": {
            "openapi": {**_URL, "description": "this document"},
            "webinars": _URL, "series": _URL, "speakers": _URL,
            "search": {**_URL, "description": "add ?q=<query>"},
            "description": {"type": "string"},
        },
    },
    "SeriesSummary": {
        "type": "object",
        "required": ["slug", "title", "description", "webinar_count", "latest", "url", "api", "feed"],
        "properties": {
            "slug": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string", "description": "Markdown"},
            "webinar_count": {"type": "integer", "minimum": 1},
            "latest": {"type": ["string", "null"], "format": "date",
                       "description": "the day its newest webinar was held"},
            "url": _URL, "api": _URL,
            "feed": {**_URL, "description": "Atom feed of the series"},
        },
    },
    "SeriesList": _page_of("SeriesSummary"),
    "Series": {
        "allOf": [
            {"$ref": "#/components/schemas/SeriesSummary"},
            {"type": "object", "required": ["webinars"],
             "properties": {"webinars": {"$ref": "#/components/schemas/WebinarList"}}},
        ],
    },
    "SpeakerSummary": {
        "type": "object",
        "required": ["slug", "name", "organisation", "webinar_count", "photo", "url", "api"],
        "properties": {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "organisation": {"type": "string"},
            "webinar_count": {"type": "integer", "minimum": 1},
            "photo": {"type": ["string", "null"], "format": "uri"},
            "url": _URL, "api": _URL,
        },
    },
    "SpeakerList": _page_of("SpeakerSummary"),
    "Speaker": {
        "allOf": [
            {"$ref": "#/components/schemas/SpeakerSummary"},
            {"type": "object", "required": ["bio", "webinars"],
             "properties": {
                 "bio": {"type": "string", "description": "Markdown"},
                 "webinars": _page_of("Appearance"),
             }},
        ],
    },
    "SearchResults": {
        "type": "object", "required": ["query", "page", "per_page", "has_more", "results"],
        "properties": {
            "query": {"type": "string", "description": "the query as received (at most 512 characters)"},
            "page": {"type": "integer", "minimum": 1, "maximum": 100},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 50},
            "has_more": {"type": "boolean", "description": "whether page + 1 has any result"},
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/SearchResult"}},
        },
    },
    "SearchResult": {
        "type": "object", "description": "A listed webinar that matches, with its best hits",
        "required": ["id", "title", "held_on", "url", "hits"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "held_on": {"type": ["string", "null"], "format": "date"},
            "url": _URL,
            "hits": {"type": "array", "items": {"$ref": "#/components/schemas/SearchHit"}},
        },
    },
    "SearchHit": {
        "type": "object", "required": ["kind", "page", "at", "url", "snippet"],
        "properties": {
            "kind": {"enum": ["webinar", "speaker", "slide", "caption"]},
            "page": {"type": ["integer", "null"], "minimum": 1, "description": "a slide's page"},
            "at": {"type": ["number", "null"], "description": "seconds into the recording"},
            "url": {**_URL, "description": "the webinar's page at the slide or moment of the hit"},
            "snippet": {"type": "string",
                        "description": "HTML: the text around the first match, escaped, the matched words in <mark>"},
        },
    },
    "Appearance": {
        "type": "object", "description": "A listed webinar a speaker is on, and the talks they gave in it",
        "required": ["webinar", "talks"],
        "properties": {
            "webinar": {"$ref": "#/components/schemas/WebinarSummary"},
            "talks": {"type": "array", "items": {
                "type": "object", "required": ["title", "start", "url"],
                "properties": {
                    "title": {"type": "string"},
                    "start": {"type": ["number", "null"], "description": "seconds into the recording"},
                    "url": {**_URL, "description": "the webinar's page at the talk's start"},
                }}},
        },
    },
}


def _json(schema: str, description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


_PAGING = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
]
_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}

def _page_of(operation_id: str, summary: str, schema: str, described: str) -> dict:
    """A paged listing: GET with page/per_page, 400 on a malformed parameter."""
    return {"get": {
        "operationId": operation_id,
        "summary": summary,
        "parameters": _PAGING,
        "responses": {"200": _json(schema, described),
                      "400": _json("Error", "A malformed parameter")},
    }}


def _by_slug(operation_id: str, summary: str, schema: str, described: str, missing: str) -> dict:
    """One item by its slug, with a page of its listed webinars."""
    return {"get": {
        "operationId": operation_id,
        "summary": summary,
        "parameters": [_SLUG, *_PAGING],
        "responses": {"200": _json(schema, described),
                      "400": _json("Error", "A malformed parameter"),
                      "404": _json("Error", missing)},
    }}


PATHS: dict = {
    "/": {"get": {
        "operationId": "index",
        "summary": "The API's entry points and a link to this document",
        "responses": {"200": _json("ApiIndex", "The entry points")},
    }},
    "/webinars": _page_of("listWebinars", "Listed webinars, newest first", "WebinarList", "A page of webinars"),
    "/webinars/{webinar_id}": {"get": {
        "operationId": "getWebinar",
        "summary": "One listed webinar with its recording, slides and captions",
        "parameters": [{"name": "webinar_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": _json("Webinar", "The webinar"),
                      "404": _json("Error", "No listed webinar has this id")},
    }},
    "/series": _page_of("listSeries",
                        "Series with at least one listed webinar, the one with the newest webinar first",
                        "SeriesList", "A page of series"),
    "/series/{slug}": _by_slug("getSeries", "A series and a page of its listed webinars, newest first",
                               "Series", "The series", "No series with a listed webinar has this slug"),
    "/speakers": _page_of("listSpeakers", "Speakers on at least one listed webinar, by name",
                          "SpeakerList", "A page of speakers"),
    "/speakers/{slug}": _by_slug(
        "getSpeaker", "A speaker and a page of their listed webinars (newest first) with the talks they gave",
        "Speaker", "The speaker", "No speaker on a listed webinar has this slug"),
    "/search": {"get": {
        "operationId": "search",
        "summary": "Listed webinars that match a query, best first, with their hits",
        "description": 'Words and "quoted phrases" must all be present, -words and -"phrases" must not. '
                       "Any string is a valid query; malformed paging falls back to the defaults.",
        "parameters": [
            {"name": "q", "in": "query", "schema": {"type": "string", "default": ""}},
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100,
                                                       "default": 1}},
            {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50,
                                                           "default": 10}},
        ],
        "responses": {"200": _json("SearchResults", "A page of results")},
    }},
}


def document(base_url: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Webinar archive public API", "version": "1.0.0",
                 "description": "Read-only. Lists only public webinars; media links redirect to "
                                "short-lived download links."},
        "servers": [{"url": f"{base_url}/api/v1"}],
        "paths": PATHS,
        "components": {"schemas": SCHEMAS},
    }
