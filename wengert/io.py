"""What `wengert fit` reads and writes: JSON data and initial values; --out and --plot, checked
before the fit and written after it without losing the fit when writing fails after all."""
import json
import os
import sys
from pathlib import Path

__all__ = ["CliError", "read_data", "read_zarr", "read_init", "check_outputs", "write_out",
           "write_plots", "connect_scheduler"]


class CliError(Exception):
    """A user error: printed as one line `wengert: error: ...`, exit code 2."""


def _load_json(text, what):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise CliError(f"{what} is not valid JSON: {e.msg} at line {e.lineno} column "
                       f"{e.colno}") from None
    except RecursionError:
        raise CliError(f"{what} is nested too deeply to read (JSON lists or objects inside "
                       f"one another more than {sys.getrecursionlimit()} levels)") from None


def _arrays(obj, what):
    """A JSON object's values with lists as numpy arrays (numbers only)."""
    import numpy as np
    if not isinstance(obj, dict):
        raise CliError(f"{what} must hold a JSON object {{\"name\": value, ...}}, got a JSON "
                       f"{type(obj).__name__}")
    out = {}
    for key, value in obj.items():
        if isinstance(value, list):
            try:
                value = np.asarray(value)
            except (ValueError, RecursionError):
                value = None
            if value is None or value.dtype.kind not in "biuf":
                raise CliError(f"{what}: {key!r} must be a number or a rectangular (nested) "
                               "list of numbers")
        out[key] = value
    return out


def _is_zarr_group(path):
    return any((path / f).is_file() for f in ("zarr.json", ".zgroup"))


def read_zarr(path):
    """A Zarr group -> dict of keyword arguments, one per array: an array stored in one chunk
    is read into memory, a larger one stays on disk (a Zarr array the Model reads by rows)."""
    try:
        import zarr
    except ImportError:
        raise CliError(f"--data {path!r} is a Zarr store, and reading it needs zarr: pip "
                       "install 'wengert[data]'") from None
    try:
        group = zarr.open_group(str(path), mode="r")
        names = sorted(group.array_keys())
    except Exception as e:
        raise CliError(f"cannot read the Zarr group {str(path)!r}: {type(e).__name__}: "
                       f"{str(e).splitlines()[0] if str(e) else ''}") from None
    if not names:
        raise CliError(f"the Zarr group {str(path)!r} holds no arrays; each array is one of "
                       "the model's keyword arguments")
    import numpy as np
    out = {}
    for name in names:
        a = group[name]
        if np.dtype(a.dtype).kind not in "biuf":
            raise CliError(f"Zarr array {name!r} in {str(path)!r} has dtype {a.dtype}; "
                           "expected numbers")
        one_chunk = all(c >= n for c, n in zip(a.chunks, a.shape))
        out[name] = (a[()] if a.ndim == 0 else a[...]) if one_chunk else a
    return out


def connect_scheduler(address):
    """--scheduler ADDRESS -> a connected dask.distributed Client (the full-data passes then
    run on its workers)."""
    try:
        from distributed import Client
    except ImportError:
        raise CliError("--scheduler needs dask's distributed: pip install 'wengert[data]'") \
            from None
    try:
        return Client(address, timeout="5s")
    except (OSError, ValueError, TypeError) as e:
        raise CliError(f"--scheduler {address!r}: cannot connect to a Dask scheduler there "
                       f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") \
            from None


def read_data(path):
    """FILE.json -> dict of keyword arguments (lists as numpy arrays); a folder holding a Zarr
    group -> its arrays (`read_zarr`)."""
    try:
        if Path(path).is_dir():
            if _is_zarr_group(Path(path)):
                return read_zarr(Path(path))
            raise CliError(f"data file {path!r} is a folder (and not a Zarr group: no "
                           "zarr.json or .zgroup in it)")
        text = Path(path).read_text()
    except FileNotFoundError:
        raise CliError(f"data file {path!r} not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CliError(f"cannot read data file {path!r}: {getattr(e, 'strerror', None) or e}") \
            from None
    what = f"data file {path!r}"
    obj = _load_json(text, what)
    if not isinstance(obj, dict):
        raise CliError(f"{what} must hold a JSON object {{\"name\": value, ...}} of the "
                       f"model's keyword arguments, got a JSON {type(obj).__name__}")
    return _arrays(obj, what)


def read_init(text, model):
    """--init JSON (inline, or a file holding it) -> dict of constrained initial values."""
    if text.lstrip().startswith("{"):
        what = "--init"
    else:
        what = f"--init file {text!r}"
        try:
            text = Path(text).read_text()
        except FileNotFoundError:
            raise CliError(f"--init {text!r}: neither a JSON object nor a file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise CliError(f"cannot read --init file {text!r}: "
                           f"{getattr(e, 'strerror', None) or e}") from None
    init = _arrays(_load_json(text, what), what)
    missing = [n for n in model.parameters if n not in init]
    unknown = [n for n in init if n not in model.parameters]
    if missing or unknown:
        raise CliError(f"{what} must give every latent site of model {model.name!r} "
                       f"({', '.join(model.parameters)}); missing: {', '.join(missing) or '-'}"
                       f", unknown: {', '.join(unknown) or '-'}")
    import numpy as np
    for name, p in model.parameters.items():
        value = np.asarray(init[name], dtype=float)
        if value.shape != p.shape:
            raise CliError(f"{what}: {name!r} must have shape {p.shape}, got {value.shape}")
        if not np.all(p.constraint.check(value)):
            raise CliError(f"{what}: {name!r} = {init[name]!r} is outside its support "
                           f"{p.constraint!r}")
        init[name] = value
    try:
        model.unconstrain(init)
    except (ValueError, TypeError) as e:
        raise CliError(f"{what} cannot be used: {e}") from None
    return init


def _writable_folder(folder, flag):
    """CliError unless `folder` (which exists) takes a new file."""
    import tempfile
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".wengert-probe-"):
            pass
    except OSError as e:
        raise CliError(f"{flag}: cannot write in the folder {str(folder)!r} "
                       f"({e.strerror or e})") from None


def _first_file_above(path):
    """The first existing ancestor of `path` that is not a folder (a path through a file)."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def check_outputs(args):
    """Refuse --out and --plot paths that cannot be written, before anything is fitted."""
    if args.out is not None:
        out = Path(args.out)
        flag = f"--out {args.out!r}"
        if out.is_dir():
            raise CliError(f"{flag} is a folder; give a file name, e.g. {str(out / 'fit.nc')!r}")
        blocked = _first_file_above(out)
        if blocked is not None:
            raise CliError(f"{flag}: {str(blocked)!r} is a file, not a folder")
        if not out.parent.is_dir():
            raise CliError(f"{flag}: the folder it goes in does not exist")
        if out.exists() and not os.access(out, os.W_OK):
            raise CliError(f"{flag}: the file exists and is not writable")
        _writable_folder(out.parent, flag)
    if args.plot is not None:
        plot = Path(args.plot)
        flag = f"--plot {args.plot!r}"
        if plot.exists() and not plot.is_dir():
            raise CliError(f"{flag} is a file; give a folder for elbo.png and posterior.png")
        blocked = _first_file_above(plot)
        if blocked is not None:
            raise CliError(f"{flag}: {str(blocked)!r} is a file, not a folder")
        try:
            plot.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CliError(f"{flag}: cannot create the folder ({e.strerror or e})") from None
        _writable_folder(plot, flag)


def write_out(fit, args):
    """Write --out; if that fails after all, save the fit in the temp folder and say where
    (returns the exit code: 0 written, 1 not where asked)."""
    import tempfile

    from ppl import _arviz
    idata = fit.to_arviz(draws=args.draws)
    try:
        _arviz.to_netcdf(idata, args.out)
        print(f"wrote {args.out}")
        return 0
    except Exception as e:   # h5py, xarray and the OS fail in many ways; one line for all
        why = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    try:
        fd, spare = tempfile.mkstemp(prefix="wengert-fit-", suffix=".nc")
        os.close(fd)
        _arviz.to_netcdf(idata, spare)
        where = f"the fit was written to {spare} instead"
    except Exception as e:   # noqa: BLE001 -- say why, whatever it was
        where = (f"the fit is printed above (a copy in the temporary folder failed too: "
                 f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
    print(f"wengert: error: could not write --out {args.out!r} ({why}); {where}",
          file=sys.stderr)
    return 1


def write_plots(fit, args):
    wrote = []
    for name, plot in (("elbo.png", fit.plot_elbo), ("posterior.png", fit.plot_posterior)):
        if name == "elbo.png" and not len(fit.elbo_history.elbo):
            print("no ELBO estimates to plot (fewer steps than eval_elbo): elbo.png skipped")
            continue
        path = str(Path(args.plot) / name)
        try:
            plot(path)
        except (ImportError, OSError) as e:
            print(f"wengert: error: could not write {path} ({type(e).__name__}: "
                  f"{str(e).splitlines()[0] if str(e) else ''}); the fit is printed above",
                  file=sys.stderr)
            return 1
        wrote.append(path)
    if wrote:
        print("wrote " + " and ".join(wrote))
    return 0
