"""Deterministic seeds derived from a base seed and a trial's coordinates."""

import hashlib


def derive_seed(base_seed: int, *coordinates: object) -> int:
    """Returns a 31-bit seed that depends only on ``base_seed`` and ``coordinates``.

    The coordinates are joined as text and hashed with SHA-256, so the seed is stable across
    processes, platforms and Python versions (unlike ``hash()``).
    """
    text = "/".join([str(int(base_seed))] + [str(c) for c in coordinates])
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
