"""`python -m explorer`: the same engine as the app, headless.

    python -m explorer train   [--preset resnet20] [--depth 20 --shortcut A ...] [--compare-plain] [--json]
    python -m explorer sweep   --depths 20,56 [--shortcut A] [--placement P] [--json]
    python -m explorer compare --placements original,full_preact [--shortcuts A,B] --depth 20 [--json]
    python -m explorer resume  EXPERIMENT_ID [--runs-dir DIR] [--json]   (an interrupted experiment, in-process)
    python -m explorer import-store OLD_DIR [--runs-dir NEW_DIR]      (a file store of before the database)
    python -m explorer worker  EXPERIMENT_DIR          (started by the job manager)

Every command takes --database-url (default: EXPLORER_DATABASE_URL, else SQLite in the runs folder) and
--artifacts-url (default: EXPLORER_ARTIFACTS_URL, else the runs folder; an fsspec URL every node sees).

Exit codes: 0 done (diverged runs are results), 1 the experiment failed, 2 bad arguments: argparse's own, and any
library error that carries a sentence for the user (a value past its range, an unusable URL), from one place in
main(), before anything starts.
Size budget: ~250 lines.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from .data.config import DATASETS, DataConfig
from .nets.config import BLOCKS, FAMILIES, INITS, NORMS, PLACEMENTS, PRESETS, SHORTCUTS, ModelConfig, preset
from .training.events import EpochEvent, Event, ProgressEvent, StatusEvent
from .training.experiments import FIGURE6_DEPTHS
from .training.recipes import DEVICES, OPTIMIZERS, PRECISIONS, SCHEDULES, train_config_for

if TYPE_CHECKING:
    from .store.records import Experiment
    from .store.runstore import RunStore
    from .training.experiments import ExperimentSpec

T = TypeVar("T")


def _csv(kind: Callable[[str], T]) -> Callable[[str], list[T]]:
    def parse(text: str) -> list[T]:
        try:
            return [kind(t.strip()) for t in text.split(",") if t.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from None
    return parse


def _model_flags(p: argparse.ArgumentParser, depth: bool = True) -> None:
    g = p.add_argument_group("model (explicit flags override the preset)")
    g.add_argument("--preset", choices=PRESETS, help="start from one of the paper's nets")
    g.add_argument("--family", choices=FAMILIES)
    if depth:
        g.add_argument("--depth", type=int)
    g.add_argument("--block", choices=BLOCKS)
    g.add_argument("--norm", choices=NORMS)
    g.add_argument("--init", choices=INITS)
    g.add_argument("--width", type=float)
    g.add_argument("--zero-init-residual", action=argparse.BooleanOptionalAction, default=None,
                   help="start each residual branch at zero (Goyal et al. 2017); on by default in sweeps where "
                        "the placement allows it (not relu_before_add or bn_after_add)")


def _train_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data and training (defaults: the dataset's recipe, see docs/engine.md)")
    g.add_argument("--dataset", choices=DATASETS, default="digits")
    g.add_argument("--data-path", help="the image folder, for --dataset folder")
    g.add_argument("--data-dir", help="where downloaded datasets live (default: EXPLORER_DATA_DIR or the user cache)")
    g.add_argument("--train-subset", type=int)
    g.add_argument("--test-subset", type=int)
    g.add_argument("--no-augment", action="store_true")
    g.add_argument("--epochs", type=int)
    g.add_argument("--steps", type=int)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--optimizer", choices=OPTIMIZERS)
    g.add_argument("--lr", type=float)
    g.add_argument("--momentum", type=float)
    g.add_argument("--weight-decay", type=float)
    g.add_argument("--schedule", choices=SCHEDULES)
    g.add_argument("--warmup-epochs", type=float)
    g.add_argument("--label-smoothing", type=float)
    g.add_argument("--seed", type=int)
    g.add_argument("--device", choices=DEVICES)
    g.add_argument("--precision", choices=PRECISIONS)
    g.add_argument("--compile", action="store_true", default=None)
    g.add_argument("--no-diagnostics", action="store_true")
    _store_flags(g)
    g.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def _store_flags(g: argparse._ActionsContainer) -> None:
    g.add_argument("--runs-dir", help="the run store's folder (default: EXPLORER_RUNS_DIR or ./runs)")
    g.add_argument("--database-url", help="the run database (default: EXPLORER_DATABASE_URL, else SQLite "
                                          "runs.db in the runs folder); postgresql://... for a shared server")
    g.add_argument("--artifacts-url", help="where weights and other artefacts are kept (default: "
                                           "EXPLORER_ARTIFACTS_URL, else the runs folder); an fsspec URL such as "
                                           "s3://bucket/prefix that every node sees")


def _program_name() -> str:
    """`resnet-explorer` when started by the console script, else `python -m explorer`."""
    return "resnet-explorer" if os.path.basename(sys.argv[0]) == "resnet-explorer" else "python -m explorer"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_program_name(), description="Train plain and residual nets headless.")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train one net, or a net and its plain twin (--compare-plain)")
    _model_flags(t)
    t.add_argument("--shortcut", choices=SHORTCUTS)
    t.add_argument("--placement", choices=PLACEMENTS)
    t.add_argument("--compare-plain", action="store_true", help="also train the plain twin, in lockstep")
    _train_flags(t)
    s = sub.add_parser("sweep", help="plain and residual at several depths (the paper's Figure 6)")
    s.add_argument("--depths", type=_csv(int), default=list(FIGURE6_DEPTHS))
    _model_flags(s, depth=False)
    s.add_argument("--shortcut", choices=[x for x in SHORTCUTS if x != "none"])
    s.add_argument("--placement", choices=PLACEMENTS)
    _train_flags(s)
    c = sub.add_parser("compare", help="several placements and/or shortcuts at one depth")
    c.add_argument("--placements", type=_csv(str))
    c.add_argument("--shortcuts", type=_csv(str))
    _model_flags(c)
    _train_flags(c)
    r = sub.add_parser("resume", help="continue an interrupted experiment from its last completed epoch")
    r.add_argument("experiment_id")
    _store_flags(r)
    r.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    i = sub.add_parser("import-store", help="import a file run store (experiment.json folders) into the database")
    i.add_argument("old_dir")
    _store_flags(i)
    e = sub.add_parser("export", help="write a finished experiment as one take-home PyTorch script")
    e.add_argument("experiment_id")
    e.add_argument("-o", "--output", help="the script's file (default: print it on stdout)")
    _store_flags(e)
    sub.add_parser("app", help="start the app (`streamlit run`); the arguments after `app` go to Streamlit")
    lt = sub.add_parser("lti", help="serve the LTI 1.3 tool (launch from an LMS) beside the app; docs/deploy.md")
    lt.add_argument("--host", default="127.0.0.1")
    lt.add_argument("--port", type=int, default=8502)
    lt.add_argument("--tool-url", help="where the LMS reaches these endpoints (default: the settings' app_url + /lti)")
    _store_flags(lt)
    w = sub.add_parser("worker", help="run one queued experiment folder (used by the job manager)")
    w.add_argument("experiment_dir")
    w.add_argument("--database-url")
    w.add_argument("--artifacts-url")
    return parser


def _model_config(args: argparse.Namespace) -> ModelConfig:
    names = ("family", "depth", "block", "shortcut", "placement", "norm", "init", "width", "zero_init_residual")
    fields: dict[str, Any] = {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}
    if args.preset:
        return preset(args.preset, **fields)
    return ModelConfig(**fields)


def _spec(args: argparse.Namespace) -> ExperimentSpec:
    from .training import experiments as X
    data = DataConfig(name=args.dataset, path=args.data_path, data_dir=args.data_dir,
                        train_subset=args.train_subset, test_subset=args.test_subset,
                        augment=False if args.no_augment else None)
    train = train_config_for(args.dataset, epochs=args.epochs, steps=args.steps, batch_size=args.batch_size,
                               optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
                               weight_decay=args.weight_decay, schedule=args.schedule,
                               warmup_epochs=args.warmup_epochs, label_smoothing=args.label_smoothing,
                               seed=args.seed, device=args.device, precision=args.precision, compile=args.compile,
                               diagnostics=False if args.no_diagnostics else None)
    base = _model_config(args)
    if args.command == "train":
        return X.twin(base, data, train, base.shortcut if not base.is_plain else "A") if args.compare_plain \
            else X.single(base, data, train)
    if args.command == "sweep":
        if args.zero_init_residual is None:  # the Figure 6 default: deep ResNets get going within a short run
            base = base.residual(args.shortcut or "A")
            base = dataclasses.replace(base, zero_init_residual=base.can_zero_init)
        base, note = X.fit_for_sweep(base)
        if note:
            print(note, file=sys.stderr)
        return X.sweep(base, args.depths, data, train, shortcut=args.shortcut or base.residual().shortcut)
    for sc in args.shortcuts or []:
        if sc not in SHORTCUTS:
            raise ValueError(f"shortcuts must be among {', '.join(SHORTCUTS)}; got {sc!r}.")
    note = X.compare_init_note(base, args.placements or (), args.shortcuts or ())
    if note:
        print(note, file=sys.stderr)
    return X.compare(base, data, train, placements=args.placements, shortcuts=args.shortcuts)


class _Progress:
    """A one-line progress bar on stderr, and a line per epoch."""

    def __init__(self, stream: TextIO | None = None) -> None:
        stream = stream or sys.stderr  # looked up per call, so a redirected sys.stderr is honoured
        self.stream, self.tty, self.last = stream, stream.isatty(), 0.0

    def __call__(self, event: Event) -> None:
        if isinstance(event, ProgressEvent) and (self.tty or time.time() - self.last > 5):
            self.last = time.time()
            frac = event.step / max(1, event.total_steps)
            bar = "#" * int(30 * frac)
            text = f"[{bar:<30}] {100 * frac:5.1f}%  step {event.step}/{event.total_steps}" + \
                   (f"  ETA {event.eta:5.0f}s" if event.eta is not None else "")
            self.stream.write(("\r" if self.tty else "") + text + ("" if self.tty else "\n"))
        elif isinstance(event, EpochEvent) and event.train_error is not None and event.train_loss is not None:
            self.stream.write(("\r" if self.tty else "") +
                              f"epoch {event.epoch:>3}  {event.run:<24} train error {event.train_error:.3f}"
                              f"  test error {event.test_error:.3f}  loss {event.train_loss:.3f}\n")
        elif isinstance(event, StatusEvent):
            self.stream.write(f"\n{event.run}: {event.message}\n")
        self.stream.flush()


def _run_and_report(store: RunStore, exp_id: str, as_json: bool) -> int:
    """Train a queued experiment in this process with a progress bar on stderr, print its report; the exit code
    (0 done, diverged runs included; 1 it failed, with one sentence: once it started, never the arguments' fault)."""
    from .jobs.worker import run_experiment
    from .store.reports import experiment_report
    try:
        run_experiment(store, exp_id, callback=_Progress())
        exp = store.load_experiment(exp_id)
    except _user_errors() as exc:
        print(f"error: {_sentence(exc)}", file=sys.stderr)
        return 1
    if exp is None:
        print(f"error: experiment {exp_id} was deleted while it ran.", file=sys.stderr)
        return 1
    _print_report(store, experiment_report(exp), as_json)
    if exp.status == "failed":
        print(f"error: {exp.message}", file=sys.stderr)
        return 1
    return 0


def _print_report(store: RunStore, report: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report))
        return
    for run in report["runs"]:
        f = run["final"]
        err = f"train error {f['train_error']:.3f}, test error {f['test_error']:.3f}" \
            if f["test_error"] is not None and f["train_error"] is not None else ""
        print(f"{run['name']:<28} {run['status']:<10} {run['epochs']} epochs  {err}")
    print(f"Saved in {store.exp_dir(report['experiment'])}")


def _other_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """resume, import-store and export."""
    from .store.runstore import RunStore
    if args.command == "import-store":
        from .store.importer import import_store
        if not Path(args.old_dir).is_dir():  # before the store: it would make the folder
            parser.error(f"{args.old_dir} is not a folder.")
        result = import_store(Path(args.old_dir), RunStore(args.runs_dir or args.old_dir, args.database_url,
                                                           args.artifacts_url))
        print(result.report())  # a sentence per folder, then the summary
        return 0
    store = RunStore(args.runs_dir, args.database_url, args.artifacts_url)
    exp = store.load_experiment(args.experiment_id)
    if args.command == "export":
        return _export(store, exp, args)
    if exp is None or exp.status not in ("interrupted", "queued"):
        parser.error(f"experiment {args.experiment_id} is not there or not interrupted"
                     + (f" (it is {exp.status})" if exp else "") + "; only an interrupted experiment resumes.")
    store.update_experiment(exp.id, status="queued", finished=None, message=None, stop_requested=None)
    store.update_runs(exp.id, where_status=("interrupted",), status="queued")
    return _run_and_report(store, exp.id, args.json)


def _export(store: RunStore, exp: Experiment | None, args: argparse.Namespace) -> int:
    """The take-home script of a finished experiment (explorer.training.export), on stdout or into a file."""
    from .store.checkpoints import load_run_dataset
    from .training.experiments import ExperimentSpec
    from .training.export import export_script
    if exp is None or exp.kind != "train":
        print(f"error: there is no training experiment {args.experiment_id} in this run store.", file=sys.stderr)
        return 2
    try:
        data = load_run_dataset(store, exp.id) if exp.dataset == "folder" else None  # uploads: this store's
        script = export_script(ExperimentSpec.from_dict(exp.spec), data=data, title=exp.id,
                               finals={r.name: r.final.to_dict() if r.final else None for r in exp.runs})
    except (ValueError, OSError) as exc:  # the experiment cannot be exported (not the command line's fault): 1
        print(f"error: {_sentence(exc)}", file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).write_text(script, encoding="utf-8")
        print(f"Wrote {args.output}: run it with `python {args.output}` (torch only).", file=sys.stderr)
    else:
        sys.stdout.write(script)
    return 0


# A library error that carries a sentence for the user (a value out of its range, an artefact or database URL that
# cannot be used, a dataset that is not there, a run database of another schema): main() prints that sentence the
# way argparse does (usage, then "error: ..."; exit 2), never a traceback. Add a class here, not a try elsewhere.
def _user_errors() -> tuple[type[BaseException], ...]:
    from .data.files import DatasetUnavailable
    from .store.db import SchemaMismatch
    return ValueError, OverflowError, DatasetUnavailable, SchemaMismatch, OSError


def _sentence(exc: BaseException) -> str:
    """The first line of an error's message (the library's errors are one sentence; a chained cause stays in logs)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else f"{type(exc).__name__} (no message)."


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI; a run store that cannot be used (a damaged or foreign file, an unreachable server, an unsupported
    URL) is one sentence on stderr and exit code 2, never a traceback."""
    from .store.db import StoreError
    try:
        return _main(argv)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["app"]:  # before argparse: Streamlit's own options (--server.port 8502) pass through untouched
        from .launch import run_app
        return run_app(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "worker":  # started by the job manager: its errors go to the worker's log, in full
        from .jobs.worker import work
        return work(args.experiment_dir, args.database_url, args.artifacts_url)
    try:
        return _command(args, parser)
    except _user_errors() as exc:
        parser.error(_sentence(exc))


def _command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Every command but `app` and `worker`; a user error raised here becomes one sentence in main()."""
    if args.command in ("resume", "import-store", "export"):
        return _other_command(args, parser)
    if args.command == "lti":
        from .lti.app import serve
        return serve(args.host, args.port, args.runs_dir, args.database_url, args.tool_url)
    spec = _spec(args)  # e.g. an impossible depth, a seed out of range, a --data-path that is not there
    if args.data_dir:
        os.environ["EXPLORER_DATA_DIR"] = args.data_dir
    from .jobs.request import JobRequest
    from .store.runstore import RunStore
    store = RunStore(args.runs_dir, args.database_url, args.artifacts_url)
    request = JobRequest.training(spec, owner="cli")
    exp_id = store.create_experiment(request.to_json(), request.runs_json(), owner=request.owner,
                                     spec_hash=request.spec_hash())
    return _run_and_report(store, exp_id, args.json)
