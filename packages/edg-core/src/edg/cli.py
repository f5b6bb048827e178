"""The ``edg`` command line.

Startup is kept light: this module imports neither torch nor any plugin; each command
imports what it needs. Errors a user can fix print one line (``--debug`` for the
traceback) and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edg import __version__
from edg.errors import EdgError

MAX_CHAT_CHARS = 2000


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plugin", "--system", dest="system", metavar="NAME",
                   help="system to run, e.g. transformer, multi-trs, nec (loads the plugin providing it)")
    p.add_argument("--config", metavar="FILE", help="YAML config file")
    p.add_argument("--preset", metavar="NAME", help="named presets of the system, comma-separated and applied in order (e.g. tiny,wo-egm)")
    p.add_argument("--data", metavar="PATH", help="dataset directory or archive (default: the embedded sample)")
    p.add_argument("--name", help="run name (default: the system name)")
    p.add_argument("--with", dest="extra_plugins", action="append", default=[], metavar="PLUGIN",
                   help="load an extra plugin (e.g. a third-party loss); repeatable")
    p.add_argument("--seeds", metavar="S1,S2,...", help="run once per seed and report mean ± std")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a killed run from its last checkpoint")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. train.lr=1e-4")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edg", description="edg: empathetic dialogue generation toolkit")
    parser.add_argument("--version", action="version", version=f"edg {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="data -> knowledge -> train -> evaluate on test -> report")
    _add_run_args(p)
    p = sub.add_parser("train", help="train only (no test evaluation)")
    _add_run_args(p)

    p = sub.add_parser("evaluate", help="evaluate a run's best checkpoint on the test split")
    p.add_argument("run_dir")
    p.add_argument("overrides", nargs="*", metavar="key=value")

    p = sub.add_parser("generate", help="generate responses for dialogue histories in a file")
    p.add_argument("run_dir")
    p.add_argument("--input", required=True, metavar="FILE",
                   help="JSONL with {\"context\": [utterances...]} per line, or text with one history per line, turns separated by ' | '")
    p.add_argument("--output", metavar="FILE", help="write JSONL here (default: stdout)")
    p.add_argument("overrides", nargs="*", metavar="key=value")

    p = sub.add_parser("chat", help="talk to a trained model")
    p.add_argument("run_dir")
    p.add_argument("overrides", nargs="*", metavar="key=value")

    p = sub.add_parser("plugins", help="list installed plugins and what they register")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("score", help="rescore a file of system outputs with edg's evaluator")
    p.add_argument("file")
    p.add_argument("--metrics", help="comma-separated metric names (default: all available)")
    p.add_argument("--bertscore-model", metavar="PATH", help="local model for bertscore")

    p = sub.add_parser("report", help="tables (Markdown, CSV, LaTeX) of runs beside published numbers")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--out", metavar="DIR", help="where to write report.{md,csv,tex}")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return COMMANDS[args.command](args) or 0
    except EdgError as exc:
        if args.debug:
            raise
        print(f"edg: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("edg: interrupted (checkpoints are kept; continue with --resume RUN_DIR)", file=sys.stderr)
        return 130


# -- commands ---------------------------------------------------------------------------
def _overrides(args) -> list[str]:
    extra = list(args.overrides)
    if getattr(args, "data", None):
        extra.append(f"data.path={args.data}")
    if getattr(args, "name", None):
        extra.append(f"name={args.name}")
    return extra


def cmd_run(args, evaluate: bool = True) -> int:
    from edg import pipeline

    if args.resume:
        session = pipeline.session_from_run(Path(args.resume), args.overrides)
        run_dir = pipeline.run(session, resume_dir=Path(args.resume), evaluate=evaluate)
        _print_summary(run_dir)
        return 0
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [None]
    run_dirs = []
    for seed in seeds:
        overrides = _overrides(args) + ([f"train.seed={seed}"] if seed is not None else [])
        session = pipeline.open_session(args.system, args.config, overrides,
                                        extra_plugins=args.extra_plugins, preset=args.preset)
        run_dirs.append(pipeline.run(session, evaluate=evaluate))
        if pipeline.is_main_process():
            _print_summary(run_dirs[-1])
    if evaluate and len(run_dirs) > 1 and pipeline.is_main_process():
        from edg.reporting.seeds import aggregate_seeds, format_seed_table

        table = format_seed_table(aggregate_seeds(run_dirs))
        out = run_dirs[0].parent / f"seeds-{'-'.join(map(str, seeds))}.md"
        out.write_text(table + "\n")
        print(table)
        print(f"seed summary: {out}")
    return 0


def _print_summary(run_dir: Path) -> None:
    from edg.runs import read_json

    summary = read_json(run_dir / "summary.json")
    metrics = summary.get("test") or summary.get("valid")
    if metrics:
        from edg.reporting.report import format_metrics_table

        print(format_metrics_table(metrics))
    print(f"run directory: {run_dir}")


def cmd_train(args) -> int:
    return cmd_run(args, evaluate=False)


def cmd_evaluate(args) -> int:
    from edg import pipeline

    run_dir = Path(args.run_dir)
    session = pipeline.session_from_run(run_dir, args.overrides)
    pipeline.test_run(session, run_dir)
    _print_summary(run_dir)
    return 0


def _read_histories(path: Path) -> list[list[str]]:
    from edg.errors import DataError

    if not path.is_file():
        raise DataError(f"input file not found: {path}")
    histories = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                context = json.loads(line)["context"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise DataError(f"{path} line {lineno}: expected a JSON object with a 'context' list") from None
            if not isinstance(context, list) or not all(isinstance(u, str) for u in context):
                raise DataError(f"{path} line {lineno}: 'context' must be a list of strings")
        else:
            context = [u.strip() for u in line.split(" | ")]
        if not any(u.strip() for u in context):
            raise DataError(f"{path} line {lineno}: empty dialogue history")
        histories.append(context)
    return histories


def cmd_generate(args) -> int:
    from edg import pipeline

    histories = _read_histories(Path(args.input))
    session, model = pipeline.load_trained(Path(args.run_dir), args.overrides)
    out = open(args.output, "w") if args.output else sys.stdout
    try:
        batch = session.config.eval.batch_size
        for start in range(0, len(histories), batch):
            chunk = histories[start:start + batch]
            for ctx, response in zip(chunk, pipeline.respond(session, model, chunk)):
                out.write(json.dumps({"context": ctx, "response": response}, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def cmd_chat(args) -> int:
    from edg import pipeline

    session, model = pipeline.load_trained(Path(args.run_dir), args.overrides)
    print(f"edg chat with {session.config.system} ({args.run_dir}). Empty line or Ctrl-D quits; "
          f"'/reset' starts a new conversation.")
    history: list[str] = []
    while True:
        try:
            line = input("you> ")
        except EOFError:
            print()
            return 0
        line = line.strip()
        if not line:
            return 0
        if line == "/reset":
            history = []
            continue
        if len(line) > MAX_CHAT_CHARS:
            print(f"(input cut to its first {MAX_CHAT_CHARS} characters)")
            line = line[:MAX_CHAT_CHARS]
        history.append(line)
        response = pipeline.respond(session, model, [history])[0]
        print(f"edg> {response}")
        history.append(response or "...")


def cmd_plugins(args) -> int:
    from edg.plugins import PluginManager

    manager = PluginManager().load(None)
    rows = []
    for name, (_ep, info) in sorted(manager.available.items()):
        rows.append({"name": name, "distribution": info.distribution, "version": info.version,
                     "registers": manager.registered_by(name), "error": manager.failures.get(name)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']}  ({row['distribution']} {row['version']})")
        if row["error"]:
            print(f"  ERROR: {row['error']}")
        for kind, names in row["registers"].items():
            print(f"  {kind}: {', '.join(names)}")
    return 0


def cmd_score(args) -> int:
    from edg.metrics.scoring import score_file
    from edg.reporting.report import format_metrics_table

    names = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    metrics = score_file(args.file, names=names, bertscore_model=args.bertscore_model)
    print(format_metrics_table(metrics))
    return 0


def cmd_report(args) -> int:
    from edg.reporting.report import write_report

    print(write_report([Path(p) for p in args.run_dirs], Path(args.out) if args.out else None))
    return 0


COMMANDS = {
    "run": cmd_run,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "generate": cmd_generate,
    "chat": cmd_chat,
    "plugins": cmd_plugins,
    "score": cmd_score,
    "report": cmd_report,
}

if __name__ == "__main__":
    sys.exit(main())
