"""Byte-level mutations of small valid files, for tests that feed damaged input to the
importer and the worker: every mutant must end accepted or with a clear error, never a
traceback, a hang or a retry loop."""
from __future__ import annotations

import random
from typing import Iterator

# How a mutant differs from its parent, chosen at random for each one.
_OPERATIONS = ("flip", "zero", "truncate", "insert", "duplicate", "delete", "interesting")
_INTERESTING = (b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00",
                b"\x00\x00\x00\x01", b"\xff\xfe", b"-1", b"abc", b"\x00" * 16)


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One mutant of `data`; the operation and where it strikes come from `rng`."""
    if not data:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    buf = bytearray(data)
    op = rng.choice(_OPERATIONS)
    at = rng.randrange(len(buf))
    if op == "flip":
        for _ in range(rng.randrange(1, 9)):
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
    elif op == "zero":
        n = rng.randrange(1, min(4096, len(buf) - at) + 1)
        buf[at:at + n] = bytes(n)
    elif op == "truncate":
        del buf[at:]
    elif op == "insert":
        buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 256)))
    elif op == "duplicate":
        n = rng.randrange(1, min(4096, len(buf) - at) + 1)
        buf[at:at] = buf[at:at + n]
    elif op == "delete":
        del buf[at:at + rng.randrange(1, 4097)]
    else:
        word = rng.choice(_INTERESTING)
        buf[at:at + len(word)] = word
    return bytes(buf)


def mutants(data: bytes, count: int, seed: int) -> Iterator[tuple[int, bytes]]:
    """`count` mutants of `data`, numbered, the same ones for the same seed."""
    rng = random.Random(seed)
    for i in range(count):
        yield i, mutate(data, rng)
