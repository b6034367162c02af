"""The one vocabulary for the state of a point, in a sweep and in a fleet: DONE (it was measured and its
numbers are kept) or FAILED (its reason is kept). A sweep written before this vocabulary
(`flopbench/study/1`) said "ok" for done; `point_status` reads that word too."""
from __future__ import annotations

DONE = "done"
FAILED = "failed"
POINT_STATUSES = (DONE, FAILED)
OLDER_WORDS = {"ok": DONE}


def point_status(word: str) -> str:
    """The state a status word names, read in today's vocabulary."""
    return OLDER_WORDS.get(word, word)
