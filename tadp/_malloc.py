"""Keep glibc from returning numpy's temporaries to the OS after every call.

The evaluator's batch path allocates many arrays of about 0.2 MB (64 slots x 350 tasks
x 8 bytes). With glibc's defaults such blocks are mmap-ed and unmapped, or the heap is
trimmed, on every call, and the page faults can cost as much as the arithmetic
(docs/measurements.md). Raising the mmap and trim thresholds keeps the memory
in the process. It changes no result, only speed; it is a no-op where glibc is absent.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def tune_malloc(threshold_bytes: int = 64 * 2**20) -> bool:
    """Set glibc's mmap threshold to ``threshold_bytes`` and the trim threshold to twice it.

    Returns True when glibc accepted both settings. Safe to call more than once.
    """
    global _done
    if _done:
        return True
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(_M_MMAP_THRESHOLD, threshold_bytes)) and bool(mallopt(_M_TRIM_THRESHOLD, 2 * threshold_bytes))
    _done = ok
    return ok
