"""numpy's OpenBLAS thread count, set from Python without extra packages.

OpenBLAS splits even skinny matrix products over all cores; on a busy 2-core machine that costs
more than it gains for this project's sizes, and a process that is meant to use one core (a
harness cell, a learned solver with ``threads=1``) should keep to it.
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np


def set_blas_threads(n: int) -> str:
    """Set numpy's OpenBLAS threads for the calling thread (``openblas_set_num_threads_local``,
    OpenBLAS 0.3.27+); returns a description of the setting in force."""
    if n <= 0:
        return "BLAS threads: library default"
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "libscipy_openblas*.so*"))):
        try:
            fn = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
        fn(n)
        return f"BLAS threads: {n} (numpy's OpenBLAS, this thread)"
    return f"BLAS threads: library default (could not set {n}: not numpy's bundled OpenBLAS)"
