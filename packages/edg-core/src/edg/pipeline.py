"""``edg run``: data -> knowledge -> tokenizer -> model -> train -> test -> report.

Each stage is a small function so that ``edg train``, ``edg evaluate``, ``edg generate``
and ``edg chat`` reuse them on an existing run directory.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from edg.config import RunConfig, dump_yaml, read_yaml, resolve, validate
from edg.errors import ConfigError, DataError, EdgError
from edg.plugins import PluginManager, load_for_system
from edg.plugins.manager import system_layers
from edg.runs import (environment_info, load_config, new_run_dir, read_json, write_json)

log = logging.getLogger("edg")


@dataclass
class Session:
    """A resolved run: config, plugins and the system built from them."""

    config: RunConfig
    plugins: PluginManager
    system: Any

    @property
    def plugin_versions(self) -> dict[str, str]:
        return {name: info.version for name, info in self.plugins.loaded.items()}


def open_session(system_name: Optional[str], config_file: Optional[str] = None, overrides: list[str] = (),
                 *, extra_plugins: list[str] = (), preset: Optional[str] = None) -> Session:
    """Resolve the config of a new run: defaults < system defaults < preset < file < overrides."""
    from edg.config import parse_overrides

    file_layer = read_yaml(config_file) if config_file else {}
    cli_layer = parse_overrides(list(overrides))
    name = system_name or cli_layer.get("system") or file_layer.get("system") or "transformer"
    wanted = [*extra_plugins, *file_layer.get("plugins", []), *cli_layer.get("plugins", [])]
    plugins = load_for_system(name, wanted)
    system_cls = plugins.get("system", name)
    # --preset wins over a preset key of the overrides or the file (a saved run's config.yaml)
    preset = preset or cli_layer.get("preset") or file_layer.get("preset")
    if preset is not None and not isinstance(preset, str):
        raise ConfigError(f"config key 'preset': a comma-separated string of preset names (got {preset!r})")
    chosen = [one.strip() for one in preset.split(",") if one.strip()] if preset else []
    layers = system_layers(system_cls, name, chosen)  # presets "tiny,wo-egm": applied in order
    layers += [file_layer, cli_layer,
               {"system": name, "plugins": sorted(set(wanted)), "preset": ",".join(chosen) or None}]
    config = resolve(layers)
    return _build_session(config, plugins)


#: when training is judged, when it stops and which checkpoint is best: a resumed run may
#: change them (the evaluations so far are judged again by the new rule) and its config.yaml
#: records it
STOPPING_KEYS = ("train.eval_every", "train.patience", "train.early_stopping_on", "train.early_stopping_after")
#: config keys (and sections) a resumed run may change: how it runs, never what it trains
RESUME_OVERRIDABLE = ("train.device", "train.progress", "train.num_workers", "train.threads", "data.cache_dir",
                      *STOPPING_KEYS)
#: ... and what evaluate/generate/chat may change: decoding, metrics, test-set size
USE_OVERRIDABLE = RESUME_OVERRIDABLE + ("generation", "eval", "data.max_valid", "data.max_test")


def _dotted(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(_dotted(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def session_from_run(run_dir: Path, overrides: list[str] = (), *, resuming: bool = False) -> Session:
    """Reopen a run directory with its saved config plus the ``overrides`` that cannot
    contradict the trained model: for a resumed run only how it runs
    (:data:`RESUME_OVERRIDABLE`), for evaluation and generation also decoding, metrics and
    the size of the evaluated split (:data:`USE_OVERRIDABLE`). Anything else (a model
    shape, the data, the tokenizer, the seed...) is rejected in one line before any work."""
    from edg.config import parse_overrides

    config = load_config(run_dir)
    if overrides:
        allowed = RESUME_OVERRIDABLE if resuming else USE_OVERRIDABLE
        saved = _dotted(config.model_dump(mode="json"))
        for key, value in _dotted(parse_overrides(list(overrides))).items():
            if any(key == a or key.startswith(a + ".") for a in allowed) or saved.get(key, object()) == value:
                continue
            what = "when resuming" if resuming else "for a trained run"
            raise ConfigError(
                f"{key} cannot be changed {what} ({run_dir}/config.yaml has {key}={saved.get(key)!r}); "
                f"allowed: {', '.join(a if '.' in a else a + '.*' for a in allowed)}; start a new run to change it")
        config = resolve([config.model_dump(mode="json"), parse_overrides(list(overrides))])
    plugins = load_for_system(config.system, config.plugins)
    return _build_session(config, plugins)


def _build_session(config: RunConfig, plugins: PluginManager) -> Session:
    from edg.plugins import model_components

    canonical = plugins.registries["system"].canonical(config.system)
    if canonical != config.system:  # `--plugin P` for the only system P registers
        config.system = canonical
    system_cls = plugins.get("system", config.system)
    options = validate(system_cls.Options, config.model, prefix="model.")
    # config.yaml holds every model option, defaults included, so that a run directory
    # rebuilds the same model even after a system's defaults change
    config.model = options.model_dump(mode="json")
    system = system_cls(config, options, plugins)
    system.registered_name = config.system
    # every component's name and options are checked before any data work
    for i, spec in enumerate(config.losses):
        plugins.check_options("loss_term", spec.name, spec.options, key=f"losses[{i}].options")
    gen = config.generation
    if gen.reranker:
        plugins.check_options("reranker", gen.reranker, gen.reranker_options, key="generation.reranker_options")
        if gen.strategy == "greedy" or gen.num_return < 2:
            why = "greedy decoding" if gen.strategy == "greedy" else "generation.num_return: 1"
            log.warning("reranker '%s' cannot act: %s gives one candidate per sample "
                        "(use generation.strategy=beam and generation.num_return > 1)", gen.reranker, why)
    plugins.check_options("schedule", config.train.schedule, config.train.schedule_options,
                          key="train.schedule_options")
    for name, source_options in system.knowledge_sources().items():
        plugins.check_options("knowledge_source", name, source_options, key=f"knowledge.{name}")
    for kind, name, component_options, key in model_components(options):
        plugins.check_options(kind, name, component_options, key=key, partial=True)
    return Session(config, plugins, system)


# -- stages -----------------------------------------------------------------------------
def load_data(config: RunConfig):
    from edg.data import load_splits

    if not config.train.progress:
        import datasets

        datasets.disable_progress_bars()

    d = config.data
    limits = {"train": d.max_train, "valid": d.max_valid, "test": d.max_test}
    if d.shape == "dialogue":
        from edg.data.dialogues import to_dialogues

        if config.eval.split != "test":
            raise ConfigError("data.shape: dialogue trains and validates on conversations but evaluates "
                              "generation per listener turn on the test split: set eval.split to test")
        turns = load_splits(d.path, source=d.source, context_window=d.context_window, cache_dir=d.cache_dir)
        splits = {split: to_dialogues(turns[split], max_dialogues=limits[split]) for split in ("train", "valid")}
        # generation is evaluated per listener turn, as for every other system
        test = turns["test"]
        splits["test"] = test.select(range(min(limits["test"], len(test)))) if limits["test"] is not None else test
        return splits
    return load_splits(d.path, source=d.source, context_window=d.context_window,
                       max_examples={k: v for k, v in limits.items() if v is not None} or None,
                       cache_dir=d.cache_dir)


def annotate_knowledge(session: Session, splits: dict[str, Any], progress: bool = True) -> dict[str, Any]:
    sources = session.system.knowledge_sources()
    if not sources:
        return splits
    from edg.interfaces.component import build
    from edg.knowledge_cache import KnowledgeCache, annotate

    cache = KnowledgeCache()
    # built first (models load lazily, in compute), so that the order can follow their options
    built = {name: build(session.plugins.get("knowledge_source", name), options, name=name, key=f"knowledge.{name}")
             for name, options in sources.items()}
    writers = {source.field: name for name, source in built.items()}
    needs = {name: (*source.requires, *(writers[c] for c in source.reads if c in writers and writers[c] != name))
             for name, source in built.items()}
    closed: set[str] = set()
    try:
        for name in knowledge_order(needs):
            splits = {split: annotate(built[name], ds, cache, progress=progress) for split, ds in splits.items()}
            built[name].close()  # free its model before the next source loads one
            closed.add(name)
    finally:
        for name in built.keys() - closed:
            built[name].close()
    return splits


def knowledge_order(requires: dict[str, tuple[str, ...]]) -> list[str]:
    """Knowledge sources in an order where each comes after the sources it needs
    (``KnowledgeSource.requires``, and the writers of the columns it ``reads``);
    configuration order otherwise."""
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ConfigError("knowledge sources require each other in a cycle: "
                              + " -> ".join([*visiting[visiting.index(name):], name]))
        visiting.append(name)
        for needed in requires[name]:
            if needed not in requires:
                raise ConfigError(f"knowledge source '{name}' requires knowledge source '{needed}', "
                                  f"which is not configured (add it under knowledge:)")
            visit(needed)
        visiting.pop()
        order.append(name)

    for name in requires:
        visit(name)
    return order


def prepare_tokenizer(session: Session, splits: dict[str, Any], run_dir: Path):
    """The run's tokenizer: loaded from ``RUN_DIR/tokenizer`` and checked against the
    fingerprint recorded when it was built; built from the training split only for a run
    that has none yet. A run that was trained with a tokenizer never gets a rebuilt one
    (new data would remap its token ids): a missing or changed tokenizer is an error."""
    from edg.errors import ResourceError
    from edg.runs import directory_digest, read_fingerprints, record_fingerprints
    from edg.tokenization import build_tokenizer, load_tokenizer, save_tokenizer

    tok_dir = run_dir / "tokenizer"
    recorded = read_fingerprints(run_dir).get("tokenizer")
    if tok_dir.is_dir():
        if recorded and directory_digest(tok_dir) != recorded:
            raise ResourceError(f"{tok_dir} is not the tokenizer this run was trained with (its files changed: "
                                f"fingerprint {directory_digest(tok_dir)[:12]}, recorded {recorded[:12]})")
        tokenizer = load_tokenizer(tok_dir)
    elif recorded or any((run_dir / "checkpoints").glob("step-*")):
        raise ResourceError(f"{tok_dir} is missing: the model was trained with that tokenizer and a rebuilt one "
                            f"would not match its token ids; restore the directory"
                            + (f" (fingerprint {recorded[:12]})" if recorded else ""))
    else:
        train = splits["train"]
        if "utterances" in train.column_names:  # dialogue-level samples (edg.data.dialogues)
            texts = (u for utterances in train["utterances"] for u in utterances)
        else:
            texts = (u for ctx, tgt in zip(train["context"], train["target"]) for u in [*ctx, tgt])
        tokenizer = build_tokenizer(session.config.tokenizer, texts, session.system.special_tokens())
        if is_main_process():  # training is deterministic: other DDP ranks build the same one
            save_tokenizer(tokenizer, tok_dir)
            record_fingerprints(run_dir, tokenizer=directory_digest(tok_dir))
    session.system.tokenizer = tokenizer
    return tokenizer


def _cache_dir(session: Session) -> Path:
    from edg.data import default_cache_dir

    d = session.config.data
    return Path(d.cache_dir).expanduser() if d.cache_dir else default_cache_dir()


def fit_stage(session: Session, splits: dict[str, Any], stage: str, run_dir: Path) -> None:
    """Fit (or load from the cache) the components the system needs at ``stage``."""
    specs = session.system.fitted_components(splits, stage)
    if not specs:
        return
    from edg.fitting import fit_all

    session.system.fitted.update(fit_all(specs, _cache_dir(session), run_dir if is_main_process() else None))


def encode_splits_once(session: Session, splits: dict[str, Any], progress: bool = True) -> dict[str, Any]:
    """Tokenize every split once (cached beside the data cache) so that collate only pads."""
    from edg.data.encoding import encode_splits

    return encode_splits(session.system, splits, cache_dir=_cache_dir(session), progress=progress)


def build_everything(session: Session, run_dir: Path, progress: bool = True):
    splits = load_data(session.config)
    fit_stage(session, splits, "before_knowledge", run_dir)
    splits = annotate_knowledge(session, splits, progress)
    prepare_tokenizer(session, splits, run_dir)
    fit_stage(session, splits, "before_prepare", run_dir)
    splits = session.system.prepare(splits)
    splits = encode_splits_once(session, splits, progress)
    from edg.training.loop import seed_everything

    seed_everything(session.config.train.seed)  # identical initial weights for a given seed
    model = session.system.build_model()
    return splits, model


def _data_name(config: RunConfig) -> str:
    return config.data.path or "the embedded sample data"


def check_splits(config: RunConfig, splits: dict[str, Any], needed: list[str]) -> None:
    """One line naming the first split a run needs that has no samples (an empty training
    split would otherwise loop forever, an empty test split fail only after training)."""
    for split in needed:
        if len(splits[split]) == 0:
            limit = getattr(config.data, f"max_{split}", None)
            why = (f" (data.max_{split}={limit})" if limit == 0 else
                   " (each sample is a listener turn and the dialogue before it: does it have listener turns?)")
            raise DataError(f"the {split} split of {_data_name(config)} has no samples{why}; "
                            f"this run needs {', '.join(needed)}")


def needed_splits(config: RunConfig, *, train: bool, evaluate: bool) -> list[str]:
    return list(dict.fromkeys((["train", "valid"] if train else []) + ([config.eval.split] if evaluate else [])))


def check_data_fingerprints(session: Session, run_dir: Path, splits: dict[str, Any], names: list[str],
                            *, record: bool) -> dict[str, str]:
    """Fingerprints of ``names`` splits, checked against those recorded when the run was
    trained (a mismatch is one line: the data changed under the run); with ``record``
    the missing ones (and the tokenizer's) are recorded. Returns the current ones."""
    from edg.runs import directory_digest, read_fingerprints, record_fingerprints, split_digest

    recorded = read_fingerprints(run_dir)
    current = {name: split_digest(splits[name]) for name in names}
    for name, digest in current.items():
        was = recorded.get("data", {}).get(name)
        if was is not None and was != digest:
            raise DataError(f"the {name} split of {_data_name(session.config)} is not the data {run_dir} was "
                            f"trained with (fingerprint {digest[:12]}, recorded {was[:12]}); restore that data "
                            f"or start a new run")
    if record:
        new = {name: d for name, d in current.items() if name not in recorded.get("data", {})}
        tok_dir = run_dir / "tokenizer"
        entries: dict[str, Any] = {"data": new} if new else {}
        if "tokenizer" not in recorded and tok_dir.is_dir():
            entries["tokenizer"] = directory_digest(tok_dir)
        if entries:
            record_fingerprints(run_dir, **entries)
    return current


def train_run(session: Session, run_dir: Path, *, resume: bool = False, evaluate: bool = False) -> Any:
    from edg.training.loop import train

    splits, model = build_everything(session, run_dir, session.config.train.progress)
    check_splits(session.config, splits, needed_splits(session.config, train=True, evaluate=evaluate))
    if is_main_process():
        check_data_fingerprints(session, run_dir, splits, ["train", "valid", "test"], record=True)
    losses = session.system.build_losses()
    state = train(model, session.system, losses, splits, session.config, run_dir, resume=resume)
    return splits, model, state


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def evaluation_settings(config: RunConfig, checkpoint: str) -> dict[str, Any]:
    """Everything that decides an evaluation's numbers besides the weights' training."""
    split = config.eval.split
    return {"split": split, "checkpoint": checkpoint, f"data.max_{split}": getattr(config.data, f"max_{split}"),
            "generation": config.generation.model_dump(mode="json"), "eval": config.eval.model_dump(mode="json")}


def test_run(session: Session, run_dir: Path, model=None, splits=None, *, which: str = "BEST",
             own: Optional[bool] = None) -> dict[str, Any]:
    """Evaluate the best checkpoint on ``eval.split`` and record the evaluation with the
    settings that produced it, without destroying an earlier one.

    An evaluation with the settings of the run's ``config.yaml`` is the run's own: its
    metrics are ``summary.json[split]``, its outputs ``{split}_outputs.jsonl``, with plots
    and report. One with other settings (``edg evaluate R generation.strategy=beam``) goes
    to ``evaluations/{split}-{hash of the settings}/`` (``evaluation.json`` and outputs).
    Both are listed in ``summary.json["evaluations"]`` with settings, checkpoint and the
    fingerprints of the data and tokenizer. ``own`` (default: compare the settings with
    ``config.yaml``'s) says which it is. Returns that record."""
    import hashlib
    import json
    import time

    from edg.evaluation import evaluate, write_outputs
    from edg.runs import read_fingerprints, split_digest
    from edg.training import checkpoint as ckpt
    from edg.training.loop import select_device, set_cpu_threads

    path = _checkpoint_to_use(run_dir, which)
    split = session.config.eval.split
    if model is None or splits is None:
        check_splits(session.config, load_data(session.config), [split])  # before any work
        splits, model = build_everything(session, run_dir, session.config.train.progress)
    check_splits(session.config, splits, [split])
    settings = evaluation_settings(session.config, path.name)
    if own is None:
        own = evaluation_settings(load_config(run_dir), path.name) == settings
    # the run's own evaluation data must be what it was trained beside; other data is recorded
    if own:
        data = check_data_fingerprints(session, run_dir, splits, [split], record=False)
    else:
        data = {split: split_digest(splits[split])}
    device = select_device(session.config.train.device)
    if device.type == "cpu":  # as in training: more threads than free cores slow every product down
        set_cpu_threads(session.config.train.threads)
    model.to("cpu")
    ckpt.load_weights(path, model)
    model.to(device)
    records, metrics = evaluate(model, session.system, splits[split], device=device,
                                progress=session.config.train.progress, reranker=session.system.build_reranker())
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    key = split if own else f"{split}-{digest[:8]}"
    folder = run_dir if own else run_dir / "evaluations" / key
    outputs = folder / f"{split}_outputs.jsonl"
    write_outputs(outputs, records)
    record = {"split": split, "checkpoint": path.name, "settings": settings,
              "fingerprints": {"data": data[split], "tokenizer": read_fingerprints(run_dir).get("tokenizer")},
              "metrics": metrics, "outputs": outputs.relative_to(run_dir).as_posix(),
              "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if "bertscore" in metrics:  # the model (with its fingerprint), layer, idf and rescaling of the figure
        from edg.metrics.bertscore import BertScoreSettings, describe

        record["bertscore"] = describe(BertScoreSettings.from_eval(session.config.eval))
    if not own:
        write_json(folder / "evaluation.json", record)
    summary_path = run_dir / "summary.json"
    summary = read_json(summary_path) if summary_path.exists() else {}
    summary.setdefault("evaluations", {})[key] = record
    if own:
        summary.update({
            "system": session.config.system,
            "seed": session.config.train.seed,
            "tokenizer_kind": session.config.tokenizer.kind,
            "checkpoint": path.name,
            "best_step": int(path.name.split("-")[1]),
            split: metrics,
        })
    write_json(summary_path, summary)
    if own:
        _plots(run_dir)
        from edg.reporting.report import write_report

        write_report([run_dir], run_dir)  # report.{md,csv,tex}: ours beside the published rows
    return {"key": key, **record}


def evaluate_run(run_dir: Path, overrides: list[str] = ()) -> dict[str, Any]:
    """``edg evaluate``: lock the run directory, then :func:`test_run`."""
    from edg.runs import RunLock, remove_stale_temporaries

    from edg.config import parse_overrides

    run_dir = Path(run_dir)
    session = session_from_run(run_dir, overrides)
    saved = load_config(run_dir)  # the run's own settings, as the user's overrides change them
    wanted = resolve([saved.model_dump(mode="json"), parse_overrides(list(overrides))]) if overrides else saved
    own = evaluation_settings(saved, "") == evaluation_settings(wanted, "")
    with RunLock(run_dir):
        remove_stale_temporaries(run_dir)
        return test_run(session, run_dir, own=own)


def _checkpoint_to_use(run_dir: Path, which: str) -> Path:
    """The ``which`` (BEST or LATEST) checkpoint, verified before any work is done."""
    from edg.errors import CheckpointError
    from edg.training import checkpoint as ckpt

    path = ckpt.find_checkpoint(run_dir / "checkpoints", which) or ckpt.find_checkpoint(run_dir / "checkpoints")
    if path is None:
        raise CheckpointError(f"{run_dir} has no checkpoint")
    ckpt.verify(path)
    return path


def _plots(run_dir: Path) -> None:
    try:
        from edg.reporting.plots import plot_confusion_matrix, plot_loss_curves
    except ImportError:  # reporting is optional for headless minimal installs
        return
    from edg.errors import EdgError

    for plot in (plot_loss_curves, plot_confusion_matrix):
        try:
            plot(run_dir)
        except EdgError as exc:  # a missing plot must not fail a finished run
            log.warning("no %s: %s", plot.__name__, exc)


def run(session: Session, *, resume_dir: Optional[Path] = None, evaluate: bool = True) -> Path:
    """The whole job; returns the run directory.

    A new run checks every split it needs before it creates its directory, which appears
    with its ``config.yaml`` and ``env.json`` already inside; if it fails before its first
    checkpoint the directory is removed again. A resumed run (``resume_dir``) keeps its
    original ``config.yaml`` and ``env.json``. Rank 0 holds the run directory's lock."""
    import contextlib

    from edg.runs import RunLock, remove_stale_temporaries

    main = is_main_process()
    if resume_dir is not None:
        run_dir = Path(resume_dir)
    else:
        if main:
            check_splits(session.config, load_data(session.config),
                         needed_splits(session.config, train=True, evaluate=evaluate))
        files = {"config.yaml": dump_yaml(session.config.model_dump(mode="json")),
                 "env.json": json.dumps(environment_info(session.plugin_versions), indent=2, default=str) + "\n"}
        run_dir = new_run_dir(session.config, files) if main else None
        run_dir = _broadcast_run_dir(run_dir)
    with RunLock(run_dir) if main else contextlib.nullcontext():
        if main and resume_dir is not None:
            remove_stale_temporaries(run_dir)
            _record_stopping_change(run_dir, session.config)
        try:
            _train_and_test(session, run_dir, resume=resume_dir is not None, evaluate=evaluate)
        except BaseException as exc:
            if main:
                _after_failure(run_dir, exc, new=resume_dir is None, evaluate=evaluate)
            raise
    return run_dir


def _train_and_test(session: Session, run_dir: Path, *, resume: bool, evaluate: bool) -> None:
    import math

    splits, model, state = train_run(session, run_dir, resume=resume, evaluate=evaluate)
    if is_main_process():
        summary_path = run_dir / "summary.json"
        summary = read_json(summary_path) if summary_path.exists() else {}
        best = state.best_valid if math.isfinite(state.best_valid) else None  # JSON has no Infinity
        summary.update({"system": session.config.system, "steps": state.step, "best_step": state.best_step,
                        "best_valid_loss": best, "stopped_early": state.stopped_early})
        write_json(summary_path, summary)
        if evaluate:
            test_run(session, run_dir, model, splits, own=True)


def _record_stopping_change(run_dir: Path, config: RunConfig) -> None:
    """A resume that changes when training stops rewrites config.yaml with the new values,
    so the run directory says what its best checkpoint was chosen by."""
    from edg.runs import load_config, save_config

    saved = load_config(run_dir)
    changed = [k for k in STOPPING_KEYS if getattr(saved.train, k.split(".")[1]) != getattr(config.train, k.split(".")[1])]
    if changed:
        log.warning("%s: %s", run_dir, "; ".join(
            f"{k} changes from {getattr(saved.train, k.split('.')[1])!r} to {getattr(config.train, k.split('.')[1])!r}"
            for k in changed) + " (config.yaml updated)")
        for key in changed:
            setattr(saved.train, key.split(".")[1], getattr(config.train, key.split(".")[1]))
        save_config(run_dir, saved)


def _after_failure(run_dir: Path, exc: BaseException, *, new: bool, evaluate: bool) -> None:
    """A new run that failed before its first checkpoint leaves nothing behind; one with
    checkpoints says how to continue."""
    import shutil

    if not any((run_dir / "checkpoints").glob("step-*")):
        if new:
            shutil.rmtree(run_dir, ignore_errors=True)
            if isinstance(exc, KeyboardInterrupt):
                log.warning("interrupted before the first checkpoint: removed %s", run_dir)
        return
    if isinstance(exc, KeyboardInterrupt) or not isinstance(exc, EdgError):
        log.warning("%s keeps its checkpoints: continue with `edg %s --resume %s`",
                    run_dir, "run" if evaluate else "train", run_dir)


def _broadcast_run_dir(run_dir: Optional[Path]) -> Path:
    """Under torchrun every rank must write into rank 0's run directory."""
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return run_dir  # type: ignore[return-value]
    if not dist.is_initialized():
        import torch

        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    holder = [str(run_dir) if run_dir else None]
    dist.broadcast_object_list(holder, src=0)
    return Path(holder[0])


# -- using a trained run ------------------------------------------------------------------
def load_trained(run_dir: Path, overrides: list[str] = ()):
    """Session and model of a finished run, with its best weights, ready to generate."""
    from edg.training import checkpoint as ckpt
    from edg.training.loop import select_device

    run_dir = Path(run_dir)
    session = session_from_run(run_dir, overrides)
    path = _checkpoint_to_use(run_dir, "BEST")
    _splits, model = build_everything(session, run_dir, progress=False)
    ckpt.load_weights(path, model)
    model.to(select_device(session.config.train.device)).eval()
    return session, model


def respond(session: Session, model, contexts: list[list[str]], *, max_context_utterances: int = 64) -> list[str]:
    """Generate one response per dialogue history (alternating speaker/listener, ending
    with the speaker's turn, as in EmpatheticDialogues)."""
    import datasets

    from edg.training.loop import to_device

    samples = []
    for i, ctx in enumerate(contexts):
        ctx = [u.strip() for u in ctx if u.strip()][-max_context_utterances:]
        roles = ["speaker" if (len(ctx) - j) % 2 == 1 else "listener" for j in range(len(ctx))]
        samples.append({"id": f"input:{i}", "conv_id": f"input:{i}", "turn": len(ctx) + 1, "context": ctx,
                        "roles": roles, "target": "", "emotion": "", "emotion_id": -1, "situation": ""})
    dataset = datasets.Dataset.from_list(samples)
    dataset = annotate_knowledge(session, {"input": dataset}, progress=False)["input"]
    rows = [dataset[i] for i in range(len(dataset))]
    device = next(model.parameters()).device
    batch = to_device(session.system.collate(rows), device)
    candidates = model.generate(batch, session.config.generation, session.system.build_reranker())
    return [session.system.decode(c[0].token_ids) if c else "" for c in candidates]
