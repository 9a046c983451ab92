"""Job handlers: what the worker does with each kind of job (see archive/pipeline.py).

A handler is `(archive, asset, hb) -> Outcome`. It downloads the original to its own
scratch space, checks its SHA-256, writes its outputs under fixed keys (a rerun
replaces, never duplicates) and returns only what it made. It never changes the
catalog and never queues other jobs: the worker merges the Outcome into a freshly read
row in the transaction that finishes the job, and the pipeline queues what follows.
Before publishing to S3 it calls `hb.check()`, which raises when the lease was lost.
"""
