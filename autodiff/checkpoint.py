"""Checkpoints: a module's parameters, an optimizer's state and extra values in one `.npz` file.

Keys are prefixed "model/", "optim/" and "extra/". The file is written to a temporary file in the
same folder and renamed over the target (`os.replace`, atomic on POSIX and Windows), so a save
that is interrupted leaves the previous checkpoint as it was. Nothing is pickled: every value is
a numeric or string array, and files are read with `allow_pickle=False`. Exported as
`autodiff.optim.save` / `autodiff.optim.load`.
"""
import contextlib
import os
import tempfile
import zipfile
import zlib

import numpy as np

__all__ = ["save", "load"]


def _plain(value, key):
    """value as a numpy array that needs no pickle (numbers, booleans, strings)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biufcUS":
        raise TypeError(f"save: {key} is a {type(value).__name__} (dtype {arr.dtype}): only "
                        f"numeric, boolean or string arrays and scalars can be saved")
    return arr


def save(path, module, optimizer=None, **extra):
    """Write `module`'s parameters, `optimizer`'s state and `extra` values to `path` (.npz).

    extra: arrays or scalars (numbers, strings), e.g. `epoch=3, rng_state=...`; they come back
    from `load`. The file at `path` is replaced atomically: a crash during the save leaves the
    old file untouched and no temporary file behind.

    >>> import os, tempfile
    >>> import numpy as np
    >>> from autodiff import nn, optim
    >>> net = nn.Linear(2, 1, rng=np.random.default_rng(0))
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> save(path, net, epoch=3)
    >>> load(path, net)
    {'epoch': 3}
    """
    arrays = {f"model/{k}": v for k, v in module.state_dict().items()}
    if optimizer is not None:
        arrays.update({f"optim/{k}": _plain(v, f"optim/{k}")
                       for k, v in optimizer.state_dict().items()})
    arrays.update({f"extra/{k}": _plain(v, k) for k, v in extra.items()})
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600): give it the old file's mode, or rw-r--r--
        mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if os.name == "posix":  # make the rename itself durable (a crash could otherwise undo it)
        with contextlib.suppress(OSError):
            fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


# what a truncated, corrupted or foreign file raises inside np.load (a missing file stays an
# OSError of its own kind)
_UNREADABLE = (ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError)


def _read(path):
    """{key: array} of an .npz file; ValueError naming the file when it cannot be read."""
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with z:
            return {k: z[k] for k in z.files}
    except _UNREADABLE as e:
        raise ValueError(f"load: {path} is corrupt or not a checkpoint written by save() "
                         f"({type(e).__name__}: {e})") from e


def load(path, module, optimizer=None):
    """Restore `module` (and `optimizer`, when given) from a file written by `save`; return
    the extra values as a dict (0-d arrays as Python scalars). Names and shapes must match;
    a failed load (a mismatch, a corrupted file) leaves module and optimizer unchanged."""
    path = os.fspath(path)
    data = _read(path)
    parts = {"model": {}, "optim": {}, "extra": {}}
    for key, value in data.items():
        head, _, name = key.partition("/")
        if head not in parts or not name:
            raise ValueError(f"load: {path} is not a checkpoint written by save() "
                             f"(unexpected key {key!r})")
        parts[head][name] = value
    if optimizer is not None and not parts["optim"]:
        raise ValueError(f"load: {path} holds no optimizer state (saved without optimizer=)")
    backup = module.state_dict()
    module.load_state_dict(parts["model"])  # all or nothing, as is the optimizer's
    if optimizer is not None:
        try:
            optimizer.load_state_dict(parts["optim"])
        except BaseException:
            module.load_state_dict(backup)
            raise
    return {k: v.item() if v.ndim == 0 else v for k, v in parts["extra"].items()}
