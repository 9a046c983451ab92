"""The states of the catalog's rows, one enum each. They are `StrEnum`s: stored as their
plain values, equal to those strings, so rows and JSON read the same as before."""
from __future__ import annotations

from enum import StrEnum


class AssetStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"
    REMOVING = "removing"  # replaced or deleted: its rows and objects are about to go


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class UploadState(StrEnum):
    UPLOADING = "uploading"
    COMPLETING = "completing"
    CHECKING = "checking"
    DONE = "done"
    REFUSED = "refused"
    ABORTED = "aborted"


class Visibility(StrEnum):
    DRAFT = "draft"
    PUBLIC = "public"
    UNLISTED = "unlisted"
    PRIVATE = "private"


class TimelineSource(StrEnum):
    """Who set a presentation's slide timeline: the alignment job, or staff (a description
    file's `slide_times`, or the review in the staff area)."""
    FOUND = "found"
    STAFF = "staff"


class EncodeState(StrEnum):
    """A progressive encode's state, in a recording's info["progressive"]: while it is
    `encoding` visitors watch the part made so far (its playlist grows)."""
    ENCODING = "encoding"
    DONE = "done"
