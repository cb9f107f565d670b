"""The `wengert` command's entry point: one BLAS thread unless the environment says otherwise.

ADVI runs small dense linear algebra (a 3 x 3 Cholesky factor, a 30 x 30 solve) thousands of
times per fit. With OpenBLAS's default of one thread per core, each tiny call pays for waking
and synchronising threads, which on a busy machine costs far more than the arithmetic; one
thread is what the tests and benchmarks use too. The variables are read when numpy loads, so
they are set here, before `ppl` (and numpy) is imported; a value the user set wins.
`python -m ppl.cli` skips this launcher and keeps the environment as it is.
"""
import os

__all__ = ["main"]

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main(argv=None):
    """Set one BLAS thread (unless set), then run `ppl.cli.main(argv)`; returns its exit code."""
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    from ppl.cli import main as run
    return run(argv)
