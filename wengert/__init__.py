"""The `wengert` command: the top layer, the one place that knows both the library (`ppl`) and
the zoo (`models`). Imports run one way: wengert -> models -> ppl -> autodiff.

`main` keeps one BLAS thread unless the environment says otherwise. ADVI runs small dense
linear algebra (a 3 x 3 Cholesky factor, a 30 x 30 solve) thousands of times per fit; with
OpenBLAS's default of one thread per core each tiny call pays for waking and synchronising
threads, which on a busy machine costs far more than the arithmetic (the tests and benchmarks
use one thread too). The variables are read when numpy loads, so they are set before `ppl` (and
numpy) is imported; a value the user set wins. `wengert`, `python -m wengert` and
`wengert.main([...])` all go through it (when numpy is already loaded, as under pytest, the
setting cannot take effect and the run is otherwise the same).
"""
import os

__all__ = ["main"]

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main(argv=None):
    """Set one BLAS thread (unless set), then run `wengert.cli.main(argv)`; returns its exit
    code."""
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    from .cli import main as run
    return run(argv)
