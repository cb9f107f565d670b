"""Synthetic handwritten-looking digits: the last-resort offline data set of `default_data()`.

    from models.synthetic_digits import synthetic_digits
    X, y = synthetic_digits(10_000, seed=0)    # float32 (n, 784) in [0, 1], int64 (n,)

This is NOT MNIST. It is a stand-in so that the examples run on a fresh machine with no network
and no data files; accuracy numbers on it say little about MNIST (it is much easier: one writer
with a few stroke templates per digit). Get the real data with `python -m models.datasets
download` or pass `--data DIR` to the examples.

Each digit is a few strokes (polylines and elliptic arcs) on a 0..1 grid, one to three variants
per digit (e.g. a 1 with or without a flag, an open or closed 4, a 7 with or without a bar).
Every sample gets its own random affine distortion (rotation +-15 degrees, scale 0.85-1.15, a
small aspect change, shear +-0.3, translation +-2 px), a jitter of the control points (0.35 px)
and a stroke thickness of 1.2-2.5 px. It is rendered on a 28 x 28 grid from the distance of
each pixel centre to the nearest stroke segment (numpy, vectorised over images x pixels x
segments) with the anti-aliased intensity clip(thickness - distance + 0.5, 0, 1), then blurred
by a 3-tap binomial filter, given Gaussian noise (sd 0.03) and clipped to [0, 1]. Classes are
balanced (counts differ by at most one) and the output is a function of (n, seed) alone.
"""
import numpy as np

__all__ = ["synthetic_digits"]

SIZE = 28
_BOX_W, _BOX_H = 15.0, 20.0          # the 0..1 template grid maps to a 15 x 20 px box


def _arc(cx, cy, rx, ry, a0, a1, n):
    """n segments of an elliptic arc, angles in degrees (y grows downwards: 270 is the top)."""
    a = np.radians(np.linspace(a0, a1, n + 1))
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], axis=1)


def _line(*points):
    return np.array(points, dtype=float)


def _join(*parts):
    """One stroke through consecutive parts (polylines), dropping repeated joint points."""
    out = [parts[0]]
    for p in parts[1:]:
        out.append(p[1:] if np.allclose(p[0], out[-1][-1]) else p)
    return np.concatenate(out)


def _eight(n):
    """A figure eight in one stroke (a stretched lemniscate of Gerono), lower loop larger."""
    t = np.linspace(0.0, 2 * np.pi, n + 1)
    return np.stack([0.5 + (0.78 - 0.18 * np.cos(t)) * np.sin(t) * np.cos(t),
                     0.5 - 0.5 * np.cos(t)], axis=1)


# digit -> variants -> strokes (each an (k, 2) array of (x, y) points, x right, y down, in 0..1)
_TEMPLATES = {
    0: [[_arc(0.5, 0.5, 0.42, 0.5, 0, 360, 14)],
        [_arc(0.5, 0.5, 0.36, 0.5, -80, 290, 14)]],
    1: [[_line((0.52, 0.0), (0.48, 1.0))],
        [_line((0.25, 0.22), (0.58, 0.0), (0.52, 1.0))],
        [_line((0.3, 0.18), (0.55, 0.0), (0.55, 1.0)), _line((0.3, 1.0), (0.8, 1.0))]],
    2: [[_join(_arc(0.5, 0.3, 0.42, 0.3, 190, 390, 7),
               _line((0.89, 0.4), (0.05, 1.0), (1.0, 1.0)))],
        [_join(_arc(0.48, 0.3, 0.4, 0.3, 200, 400, 7),
               _line((0.86, 0.4), (0.45, 0.72), (0.1, 0.98), (0.5, 0.9), (1.0, 1.0)))]],
    3: [[_join(_arc(0.5, 0.27, 0.4, 0.26, 200, 450, 7), _arc(0.5, 0.76, 0.45, 0.24, 270, 520, 8))],
        [_line((0.08, 0.02), (0.88, 0.02), (0.42, 0.45)),
         _arc(0.48, 0.72, 0.44, 0.28, 260, 520, 8)]],
    4: [[_line((0.68, 1.0), (0.68, 0.0), (0.0, 0.66), (1.0, 0.66))],
        [_line((0.15, 0.0), (0.08, 0.6), (0.98, 0.6)), _line((0.75, 0.1), (0.72, 1.0))]],
    5: [[_join(_line((0.88, 0.0), (0.22, 0.0), (0.16, 0.46)),
               _arc(0.5, 0.69, 0.42, 0.31, 220, 510, 9))],
        [_line((0.22, 0.0), (0.16, 0.46)), _line((0.22, 0.0), (0.9, 0.0)),
         _arc(0.5, 0.69, 0.42, 0.31, 220, 500, 9)]],
    6: [[_join(_line((0.78, 0.0), (0.42, 0.22), (0.18, 0.5), (0.1, 0.72)),
               _arc(0.48, 0.72, 0.38, 0.28, 180, 540, 12))]],
    7: [[_line((0.0, 0.0), (1.0, 0.0), (0.32, 1.0))],
        [_line((0.0, 0.0), (1.0, 0.0), (0.32, 1.0)), _line((0.35, 0.52), (0.88, 0.52))],
        [_line((0.05, 0.15), (0.05, 0.0), (0.95, 0.0), (0.6, 0.5), (0.45, 1.0))]],
    8: [[_arc(0.5, 0.24, 0.33, 0.24, 90, 450, 10), _arc(0.5, 0.74, 0.42, 0.26, 270, 630, 12)],
        [_eight(16)]],
    9: [[_arc(0.48, 0.3, 0.38, 0.3, 0, 360, 12), _line((0.86, 0.3), (0.8, 1.0))],
        [_arc(0.48, 0.3, 0.38, 0.3, 0, 360, 12),
         _join(_line((0.86, 0.3), (0.84, 0.7)), _arc(0.5, 0.7, 0.34, 0.3, 0, 130, 5))]],
}


def _compile(strokes):
    """Template points in pixel units, centred on the origin, and (first, last) segment indices."""
    pts, ia, ib, k = [], [], [], 0
    for s in strokes:
        s = np.asarray(s, dtype=float)
        pts.append(s)
        ia.extend(range(k, k + len(s) - 1))
        ib.extend(range(k + 1, k + len(s)))
        k += len(s)
    pts = np.concatenate(pts)
    pts = (pts - 0.5) * (_BOX_W, _BOX_H)
    return pts, np.array(ia), np.array(ib)


_COMPILED = [[_compile(v) for v in _TEMPLATES[d]] for d in range(10)]


def _affine(rng, n):
    """n random 2x2 matrices: rotation, scale, aspect and shear; plus translations (n, 2)."""
    theta = np.radians(rng.uniform(-15, 15, n))
    scale = rng.uniform(0.85, 1.15, n)
    aspect = rng.uniform(0.9, 1.1, n)
    shear = rng.uniform(-0.3, 0.3, n)
    c, s = np.cos(theta), np.sin(theta)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    sh = np.zeros((n, 2, 2))
    sh[:, 0, 0] = scale * aspect
    sh[:, 0, 1] = shear * scale / aspect     # x += shear * y: a slant
    sh[:, 1, 1] = scale / aspect
    return rot @ sh, rng.uniform(-2, 2, (n, 2))


def _render(a, b, thickness, chunk=64):
    """Images (n, 28, 28) float32 of segments a -> b ((n, S, 2) pixel coordinates)."""
    n = len(a)
    out = np.empty((n, SIZE, SIZE), np.float32)
    c = np.arange(SIZE, dtype=np.float32) + 0.5          # pixel centres
    for i in range(0, n, chunk):
        ax, ay = a[i:i + chunk, :, 0], a[i:i + chunk, :, 1]
        ux, uy = b[i:i + chunk, :, 0] - ax, b[i:i + chunk, :, 1] - ay
        inv = 1.0 / np.maximum(ux * ux + uy * uy, 1e-6)
        dx = c[None, :, None] - ax[:, None, :]          # (m, 28 columns, S)
        dy = c[None, :, None] - ay[:, None, :]          # (m, 28 rows, S)
        # projection of each pixel on each segment's line, as a fraction of the segment
        t = (dy * (uy * inv)[:, None, :])[:, :, None, :] + (dx * (ux * inv)[:, None, :])[:, None]
        np.clip(t, 0.0, 1.0, out=t)
        ex = dx[:, None] - t * ux[:, None, None, :]      # (m, rows, columns, S)
        t *= uy[:, None, None, :]
        np.subtract(dy[:, :, None], t, out=t)
        ex *= ex
        t *= t
        ex += t
        out[i:i + chunk] = ex.min(axis=-1)
    np.sqrt(out, out=out)
    np.subtract(thickness[:, None, None] + 0.5, out, out=out)
    return np.clip(out, 0.0, 1.0, out=out)


def _blur(x):
    """3-tap binomial blur [1/4, 1/2, 1/4] along rows and columns, zero outside."""
    y = 0.5 * x
    y[:, 1:] += 0.25 * x[:, :-1]
    y[:, :-1] += 0.25 * x[:, 1:]
    z = 0.5 * y
    z[:, :, 1:] += 0.25 * y[:, :, :-1]
    z[:, :, :-1] += 0.25 * y[:, :, 1:]
    return z


def synthetic_digits(n, seed=0):
    """n synthetic 28 x 28 digit images: (images float32 (n, 784) in [0, 1], labels int64 (n,)).

    NOT MNIST: stroke templates of the ten digits under random affine distortions, stroke
    thicknesses and a little blur and noise (see the module docstring), a stand-in so that the
    examples run offline. Classes are balanced (label i % 10 before a shuffle) and the result
    depends on (n, seed) only: different seeds give different images.

    >>> X, y = synthetic_digits(20, seed=1)
    >>> X.shape, X.dtype, y.dtype, np.bincount(y).tolist()
    ((20, 784), dtype('float32'), dtype('int64'), [2, 2, 2, 2, 2, 2, 2, 2, 2, 2])
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 10).astype(np.int64)
    variant = rng.integers(0, 6, n)
    mats, shifts = _affine(rng, n)
    thickness = rng.uniform(1.2, 2.5, n).astype(np.float32)
    images = np.empty((n, SIZE, SIZE), np.float32)
    for d in range(10):
        for v, (pts, ia, ib) in enumerate(_COMPILED[d]):
            idx = np.flatnonzero((labels == d) & (variant % len(_COMPILED[d]) == v))
            if not len(idx):
                continue
            p = pts[None] + rng.normal(0.0, 0.35, (len(idx),) + pts.shape)
            p = np.einsum("nij,nkj->nki", mats[idx], p) + shifts[idx, None] + SIZE / 2
            p = p.astype(np.float32)
            images[idx] = _render(p[:, ia], p[:, ib], thickness[idx])
    images = _blur(images)
    images += rng.normal(0.0, 0.03, images.shape).astype(np.float32)
    np.clip(images, 0.0, 1.0, out=images)
    return images.reshape(n, SIZE * SIZE), labels
