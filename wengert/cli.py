"""`wengert`: fit a model of the zoo, or one in a file of yours, with ADVI from the shell.

    wengert fit eight_schools                       # the zoo's shipped data, meanfield
    wengert fit eight_schools --family fullrank --seed 1 --out fit.nc --plot figs
    wengert fit my_model.py:coin --data coin.json   # a model function in a file, its data
    wengert fit kidiq --method advi                 # Stan's stochastic ADVI by name
    wengert fit glm.py:logistic --data big.zarr --subsample 1000 --scheduler tcp://host:8786
    wengert models                                  # the zoo

MODEL is a zoo name or `path/to/file.py:function`, the function an `@ppl.model` factory or a
plain model function. --data is a JSON object of the function's keyword arguments (lists become
numpy arrays, other values pass as they are); a zoo model without --data uses its shipped data,
a file model is called with no arguments. --data may also be a Zarr group (a folder): each array
is a keyword argument, read into memory if stored in one chunk, else read from disk by rows;
--subsample N makes the model's plate over those rows draw minibatches of N (blocks of chunks:
see ppl.data), and --scheduler ADDRESS runs the full-data passes on a running Dask scheduler's
workers. --init gives the starting point (every latent
site's constrained value, as ppl.advi's init=). --out and --plot are checked before anything is
fitted. The fit prints the bound model, a summary of the
posterior draws, the convergence line and the verdict: the PSIS k-hat of q (Yao et al., "Yes,
but did it work?", 2018: k < 0.5 good, 0.5-0.7 ok) and whether reweighting moves q's moments
(ppl.infer.verdict: a high k-hat with unmoved moments is light tails, not a miss).

Exit codes: 0 fitted (converged or not: read the convergence line); 1 the fit itself failed
(e.g. the log density is not finite at the initial point, or any error inside the fit), or --out
or --plot could not be written after the fit after all (the fit is printed; --out's data go to
the temp folder, named on stderr); 2 a bad command, model name, file or data, or a model whose
code fails (one line on stderr, nothing fitted); 130 Ctrl-C: the fit so far is printed first,
marked interrupted, then the exit code says the run was cut short (the shell's 128 + SIGINT, so
scripts that chain `wengert fit ... && next` stop).

Only what the fit needs is imported: ArviZ and matplotlib load only for --out and --plot.
"""
import argparse
import os
import re
import sys
import time
import warnings
from pathlib import Path

from .io import (CliError, check_outputs, connect_scheduler, read_data, read_init, write_out,
                 write_plots)

__all__ = ["main"]

_ROWS = 10     # the summary shows at most this many elements of a site unless --all


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage + message
        raise CliError(f"{message} (see `{self.prog} --help`)")


class _Version(argparse.Action):
    """--version, reading the installed version only when asked (importlib.metadata is slow)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib import metadata
        try:
            version = metadata.version("wengert")
        except metadata.PackageNotFoundError:
            version = "unknown (not installed)"
        print(f"wengert {version}")
        parser.exit(0)


def _int_at_least(low, what):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


def _parser():
    p = _Parser(prog="wengert", description="Fit probabilistic models with ADVI "
                "(Kucukelbir et al., 2017) on Wengert's autodiff engine.")
    p.add_argument("--version", action=_Version)
    sub = p.add_subparsers(dest="command", metavar="{fit,models}")
    f = sub.add_parser("fit", help="fit a model with ADVI and print its posterior summary",
                       description="Fit MODEL (a zoo name or path/to/file.py:function) with "
                       "ADVI and print the summary, the convergence line and k-hat.")
    f.add_argument("model", metavar="MODEL", help="zoo name (see `wengert models`) or "
                   "path/to/file.py:function")
    f.add_argument("--data", metavar="FILE.json", help="JSON object of the model function's "
                   "keyword arguments, or a Zarr group (STORE.zarr) whose arrays are those "
                   "(default: a zoo model's shipped data)")
    f.add_argument("--subsample", metavar="N", type=_int_at_least(1, "a positive integer"),
                   help="minibatches of N rows from the model's plate over the data")
    f.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler "
                   "(tcp://host:port): full-data passes run on its workers")
    f.add_argument("--method", choices=("auto", "advi", "dadvi"), default="auto",
                   help="advi: Stan's stochastic ADVI; dadvi: deterministic ADVI with "
                   "linear-response covariances and PSIS-resampled draws (ppl.dadvi); auto: "
                   "dadvi where it is the more accurate at a comparable time (all the data in "
                   "memory, up to 100 parameters, no --steps), else advi (ppl.advi's "
                   "method='auto'; default)")
    f.add_argument("--family", choices=("meanfield", "fullrank", "lowrank"),
                   default="meanfield", help="Gaussian family of q (default: meanfield; "
                   "lowrank: diagonal plus rank --rank, for hundreds of parameters)")
    f.add_argument("--rank", type=_int_at_least(1, "a positive integer"), default=None,
                   help="the low-rank family's rank (default: 2)")
    f.add_argument("--centring", choices=("learn", "none"), default="learn",
                   help="learn: hierarchical sites theta ~ N(mu, tau) get a centredness "
                   "learned with q, censored (truncated-normal) values the better of two "
                   "forms (default); none: the model as written")
    f.add_argument("--steps", type=_int_at_least(1, "a positive integer"), default=None,
                   help="maximum number of stochastic ADVI steps (default: 10000; asks for "
                   "--method advi under auto; not with --method dadvi)")
    f.add_argument("--seed", type=_int_at_least(0, "a non-negative integer"), default=None,
                   help="random seed (default: a fresh one, printed so the run can be repeated)")
    f.add_argument("--draws", type=_int_at_least(21, "an integer >= 21"), default=1000,
                   help="draws from q for the summary, k-hat and --out (default: 1000)")
    f.add_argument("--init", metavar="JSON", help="initial values: a JSON object of every "
                   "latent site's constrained value, inline ('{\"mu\": 0, \"tau\": 1}') or in "
                   "a file (as ppl.advi's init=)")
    f.add_argument("--out", metavar="FIT.nc", help="write the fit as ArviZ data to netCDF")
    f.add_argument("--plot", metavar="DIR", help="write elbo.png and posterior.png to DIR")
    f.add_argument("--all", action="store_true", help=f"print every element of every site "
                   f"(default: the first {_ROWS} of a longer site, and how many it has)")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("models", help="list the model zoo", description="List the model zoo.")
    return p


# ---- the model and its data ----------------------------------------------------------------------
def _resolve(spec):
    """MODEL -> (factory or bound Model, label, shipped data or None, the zoo entry's
    `advi_options(data)` or None)."""
    from models import ZOO, load_model
    if spec in ZOO:
        entry = load_model(spec)
        return entry.model, spec, entry.data(), getattr(entry, "advi_options", None)
    path, sep, name = spec.rpartition(":")
    if not sep:
        if spec.endswith(".py"):
            raise CliError(f"name the model function in {spec!r}: FILE.py:FUNCTION")
        raise CliError(f"unknown model {spec!r}: give a zoo name ({', '.join(sorted(ZOO))}) "
                       "or path/to/file.py:function")
    if not path or not name.isidentifier():
        raise CliError(f"bad model {spec!r}: expected path/to/file.py:function")
    return _from_file(path, name), name, None, None


def _from_file(path, name):
    import importlib.util

    import ppl
    file = Path(path)
    if file.is_dir():
        raise CliError(f"model file {path!r} is a folder; expected path/to/file.py:function")
    if not file.is_file():
        raise CliError(f"model file {path!r} not found")
    mod_name = f"_wengert_model_{abs(hash(str(file.resolve())))}"
    spec = importlib.util.spec_from_file_location(mod_name, file)
    if spec is None:
        raise CliError(f"cannot load {path!r} as a Python module (a .py file is expected)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    sys.path.insert(0, str(file.resolve().parent))  # as `python file.py` would: siblings import
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise CliError(f"cannot load {path!r}: SyntaxError: {e.msg} (line {e.lineno})") from None
    except Exception as e:
        raise CliError(f"cannot load {path!r}: {type(e).__name__}: {e}") from None
    if not hasattr(module, name):
        raise CliError(f"{path!r} has no function {name!r}")
    obj = getattr(module, name)
    if isinstance(obj, ppl.Model) or callable(getattr(obj, "model_fn", None)):
        return obj
    import inspect
    if inspect.isfunction(obj):
        return ppl.model(obj)
    raise CliError(f"{path}:{name} is not a model function (got {type(obj).__name__}); "
                   "expected a function that calls ppl.sample, or an @ppl.model factory")


def _check_keys(factory, data, label):
    """Compare the data's keys with the model function's signature before calling it."""
    import inspect
    fn = getattr(factory, "model_fn", factory)
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return
    kinds = inspect.Parameter
    named = [p.name for p in params if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)]
    takes = f"it takes ({', '.join(named)})" if named else "it takes no data"
    if not any(p.kind is kinds.VAR_KEYWORD for p in params):
        unknown = [k for k in data if k not in named]
        if unknown:
            raise CliError(f"model {label!r}: unknown data key(s) {', '.join(unknown)}; {takes}")
    missing = [p.name for p in params if p.default is p.empty and p.name not in data
               and p.kind is not kinds.VAR_KEYWORD and p.kind is not kinds.VAR_POSITIONAL]
    if missing:
        raise CliError(f"model {label!r}: missing data key(s) {', '.join(missing)} "
                       f"(give them in --data FILE.json); {takes}")


def _bind(args):
    """(bound Model, ADVI options): a zoo entry may recommend options for its data (as
    `advi_options(data)`: a start, say), which the command passes to ppl.advi; none, with a
    note, when they fail on the user's data."""
    import ppl
    factory, label, shipped, options = _resolve(args.model)
    data = {}
    if isinstance(factory, ppl.Model):
        if args.data is not None:
            raise CliError(f"{args.model} is a Model already bound to its data; name its "
                           "factory to use --data")
        model = factory
    else:
        data = read_data(args.data) if args.data is not None else (shipped or {})
        _check_keys(factory, data, label)
        try:
            model = factory(**data)
        except (ValueError, TypeError) as e:
            why = re.sub(r"^model '[^']*': ", "", str(e))
            raise CliError(f"model {label!r} rejects the data: {why}") from None
        except Exception as e:      # the model's own code failed (mu.value on numpy, ...)
            raise CliError(f"model {label!r} fails when run: {_why(e)}") from None
    if model.num_params == 0:
        raise CliError(f"model {label!r} has no latent variables to fit (no ppl.sample site "
                       "without obs=): is it a model function?")
    if args.subsample is not None:
        try:
            model = model.subsample(args.subsample)
        except ValueError as e:
            why = re.sub(r"^model '[^']*': ", "", str(e))
            raise CliError(f"--subsample {args.subsample}: model {label!r}: {why}") from None
    if options is None:
        return model, {}
    try:
        return model, options(data)
    except Exception as e:        # data the entry did not expect (no y: the prior alone)
        print(f"wengert: note: the zoo entry's advi_options do not fit this data "
              f"({type(e).__name__}: {e}); ADVI's defaults are used", file=sys.stderr)
        return model, {}


# ---- the fit -------------------------------------------------------------------------------------
_VERDICT = {"reweight": "ok after reweighting", "light_tails": "ok, light tails",
            "miss": "unreliable"}


def _verdict_line(v):
    """The fit's verdict (ppl.infer.verdict.judge) in one line: k-hat in words (Yao et al. 2018;
    ppl.infer.diagnostics' thresholds) when q agrees with the posterior, else what reweighting
    says, with a remedy that exists for this fit."""
    if v.kind == "no_finite":
        return f"k-hat: not computed: {v.message} {v.hint}".rstrip()
    from ppl.infer.diagnostics import KHAT_BAD, KHAT_GOOD, khat_words  # loaded by the fit
    words = _VERDICT.get(v.kind) or {"ok": "ok: usable, but expect error in the tails"}.get(
        khat_words(v.khat), khat_words(v.khat))
    why = "" if v.kind == "good" else f"; {v.message.split(': ', 1)[-1]}"
    tail = "".join(f" {t}" for t in (v.hint, v.warning) if t)
    return (f"k-hat {v.khat:.2f}: {words}{why}{tail} (PSIS over {v.draws} draws of q: < "
            f"{KHAT_GOOD:g} good, <= {KHAT_BAD:g} ok; moments reweighted against q's)")


def _convergence_line(fit):
    if fit.method == "dadvi":
        state = "converged" if fit.converged else "NOT converged"
        return f"{state}: {fit.stop_reason} (trust-region steps {fit.steps})"
    state = "converged" if fit.converged else "NOT converged"
    eta = "none" if fit.eta is None else f"{fit.eta:g}"
    drift = fit.info.get("drift")
    moved = "" if drift is None else f"drift {drift:.3f} sd, "
    return (f"{state}: {fit.stop_reason} (steps {fit.steps}, eta {eta}, {moved}"
            f"R-hat of the raw iterates {fit.rhat:.3f}, skipped steps {fit.skipped})")


def _why(e):
    """An exception from the model's code in one line, with the remedy for the usual ones."""
    text = str(e).splitlines()[0] if str(e) else ""
    hint = ""
    if isinstance(e, AttributeError) and "'value'" in text and "getval" not in text:
        hint = " (read a site's value with ad.getval(x): it works on Tensors and numpy arrays)"
    elif isinstance(e, TypeError) and "Tensor" in text and "ad." not in text:
        hint = " (inside a model compute with ad. functions, e.g. ad.exp, not numpy's)"
    return f"{type(e).__name__}: {text}{hint}"


def _fit_failed(e):
    msg = str(e)
    if "init=" in msg:
        msg += " (from the command: --init '{\"site\": value, ...}' with every latent site)"
    print(f"wengert: error: the fit failed: {msg}", file=sys.stderr)
    return 1


def _fit(args, t_start):
    if args.method == "dadvi" and args.steps is not None:
        raise CliError("--steps is ADVI's step limit; --method dadvi takes no steps (its "
                       "trust-region Newton stops on the gradient)")
    check_outputs(args)
    client = connect_scheduler(args.scheduler) if args.scheduler is not None else None
    try:
        return _fit_with(args, t_start)
    finally:
        if client is not None:
            client.close()


def _centring_line(fit):
    """What partial centring did: each site's centredness (1 as written, 0 non-centred)."""
    parts = []
    for name, lam in fit.info["centring"].items():
        if isinstance(lam, str):
            parts.append(f"{name} non-centred by its quantile function")
        else:
            parts.append(f"{name} lam {float(lam.min()):.2f}-{float(lam.max()):.2f} "
                         f"(mean {float(lam.mean()):.2f})")
    return "centring (1: as written, 0: non-centred): " + "; ".join(parts)


def _rows_line(model, fit, seconds):
    """Rows per second of the gradient steps over the data plate, when it is subsampled."""
    batch = sum(model.subsampled.values())
    if not batch or not seconds > 0:
        return None
    rows = batch * fit.info.get("gradient_evaluations", fit.steps)
    return f"rows per second: {rows / seconds:,.0f} ({batch} per minibatch)"


def _fit_with(args, t_start):
    if args.rank is not None and args.family != "lowrank":
        raise CliError("--rank is the low-rank family's: give --family lowrank")
    model, options = _bind(args)
    entry = set(options)        # the zoo entry's: advice for the method "auto" picks, not a pick
    told = f"; the zoo entry's options: {', '.join(sorted(options))}" if options else ""
    if args.init is not None:
        options = {**options, "init": read_init(args.init, model)}
        told += "; initial values from --init"
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little") >> 1
    import ppl
    print(model)
    if args.steps is not None:
        options = {**options, "steps": args.steps}
    if args.rank is not None:
        options = {**options, "rank": args.rank}
    method, why, fitted = args.method, "", args.family
    if method == "auto":
        from ppl.infer.method import STOCHASTIC_DEFAULTS, choose
        method, why, fitted = choose(model, args.family, {**STOCHASTIC_DEFAULTS, **{
            k: v for k, v in options.items() if k in STOCHASTIC_DEFAULTS and k not in entry}})
        why = f" ({why})"
    if method == "dadvi":
        dropped = sorted(k for k in options if k not in ("init", "rank"))
        options = {k: v for k, v in options.items() if k in ("init", "rank")}   # dadvi's
        if dropped:
            told += f" (not used by DADVI: {', '.join(dropped)})"
        print(f"DADVI {fitted}, seed {seed}{why}{told}", flush=True)
    else:
        steps = options.get("steps", 10_000)
        print(f"ADVI {args.family}, seed {seed}, at most {steps} steps{why}{told}", flush=True)
    t_fit = time.perf_counter()
    try:
        fit = ppl.advi(model, family=args.family, seed=seed, method=args.method,
                       progress=False if args.quiet else None,
                       centring=None if args.centring == "none" else "learn", **options)
    except (ValueError, FloatingPointError, RuntimeError) as e:
        return _fit_failed(e)
    except TypeError as e:          # the model's code on the engine's Tensors (np.exp, ...)
        raise CliError(f"model {model.name!r} fails when differentiated: {_why(e)}") from None
    except Exception as e:          # anything else from the model's code or the fit
        print(f"wengert: error: the fit failed: {_why(e)}", file=sys.stderr)
        return 1
    t_fit = time.perf_counter() - t_fit
    if fit.method != method:        # auto's deterministic fit failed: stochastic instead
        print(f"method: {fit.info.get('method', fit.method)}")
    print(fit.summary_text(draws=args.draws, max_rows=None if args.all else _ROWS,
                           note="--all for every row, --out for ArviZ data"))
    print(_convergence_line(fit))
    print(_verdict_line(fit.judge(4 * args.draws)))   # the draws behind the table
    if fit.info.get("centring"):
        print(_centring_line(fit))
    code = 0
    if args.out is not None:
        code = write_out(fit, args)
    if args.plot is not None:
        code = max(code, write_plots(fit, args))
    rows = _rows_line(model, fit, t_fit)
    if rows is not None:
        print(rows)
    print(f"seconds: fit {t_fit:.2f}, total {time.perf_counter() - t_start:.2f}")
    return 130 if fit.stop_reason.startswith("interrupted") else code


def _models():
    from models import list_models
    rows = list_models()
    width = max(len(name) for name, _ in rows)
    for name, desc in rows:
        print(f"{name:<{width}}  {desc}")
    return 0


def main(argv=None):
    """Run `wengert` with `argv` (default sys.argv[1:]); returns the exit code.

    >>> main(["fit", "no_such_model"])
    2
    """
    t_start = time.perf_counter()
    try:
        args = _parser().parse_args(argv)
        if args.command == "fit":
            with warnings.catch_warnings():   # numpy's floating-point notes (log of a negative
                warnings.simplefilter("ignore", RuntimeWarning)  # at a start): said in words
                return _fit(args, t_start)
        if args.command == "models":
            return _models()
        raise CliError("a command is required: fit or models (see `wengert --help`)")
    except CliError as e:
        print(f"wengert: error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help and --version
        return e.code if isinstance(e.code, int) else 0
    except KeyboardInterrupt:
        print("wengert: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:       # `wengert fit ... | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141                # as a shell reports death by SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
