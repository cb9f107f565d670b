"""The array library behind the ops: the one place where they reach numpy (and scipy).

Every module in ops/ takes `np` (numpy's API), `sp` (scipy.special's) and `sla` (scipy.linalg's)
from here, so that another array library with numpy's API (CuPy and cupyx.scipy for a GPU) can
be put behind the engine by changing this module alone.
"""
import numpy as np
from scipy import linalg as sla
from scipy import special as sp

__all__ = ["np", "sp", "sla"]


_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3     # glibc's malloc.h


def keep_heap_pad(nbytes=None, chunks=False):
    """Ask glibc's malloc to keep `nbytes` (default 16 MiB, or $WENGERT_MALLOC_TOP_PAD) free
    at the top of the heap instead of handing it back to the OS after each large free.

    Why: a compiled program allocates and frees arrays of a megabyte or more on every call;
    glibc trims the heap whenever about twice the largest freed block is free at its top, and
    the next call faults those pages in again (a batched Hessian of 30 rows: 3.5 ms per call,
    0.9 ms with the pad). Returns whether it was set: not on other C libraries, not when the
    user set MALLOC_TOP_PAD_ (glibc's own variable), not when the pad asked for is 0.

    chunks=True (a process that reads data in chunks of megabytes: a Dask worker running
    full-data passes) also serves arrays up to 64 MiB from the heap and trims it only above
    256 MiB: Dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536, which maps and unmaps
    every chunk, and a pass over 20 chunks of 4 MB ran 4x slower in a worker than here.
    """
    import ctypes  # noqa: PLC0415
    import os  # noqa: PLC0415
    import sys  # noqa: PLC0415
    if not sys.platform.startswith("linux") or "MALLOC_TOP_PAD_" in os.environ:
        return False
    if nbytes is None:
        raw = os.environ.get("WENGERT_MALLOC_TOP_PAD", str(16 << 20))
        try:
            nbytes = int(raw)
        except ValueError:
            raise ValueError(f"WENGERT_MALLOC_TOP_PAD must be a number of bytes, got "
                             f"{raw!r}") from None
    if nbytes <= 0:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        done = bool(libc.mallopt(_M_TOP_PAD, int(nbytes)))
        if chunks:
            done &= bool(libc.mallopt(_M_MMAP_THRESHOLD, 64 << 20))
            done &= bool(libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20))
        return done
    except (OSError, AttributeError):       # musl or another C library: nothing to set
        return False
