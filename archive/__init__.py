"""webinar-archive domain: configuration, catalog, S3 store, processing, jobs.

This package never imports Flask or `web`.
"""
