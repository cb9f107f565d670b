"""Test configuration: one BLAS thread (tiny LAPACK calls slow down 10x with several on a busy
2-core machine), set before numpy is imported."""
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
