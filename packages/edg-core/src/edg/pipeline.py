"""``edg run``: data -> knowledge -> tokenizer -> model -> train -> test -> report.

Each stage is a small function so that ``edg train``, ``edg evaluate``, ``edg generate``
and ``edg chat`` reuse them on an existing run directory.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from edg.config import RunConfig, read_yaml, resolve, validate
from edg.errors import ConfigError
from edg.plugins import PluginManager, load_for_system
from edg.runs import (environment_info, load_config, new_run_dir, read_json, save_config, write_json)

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
    layers = [{"system": name}, system_cls.default_config()]
    for one in (preset.split(",") if preset else []):  # "tiny,wo-egm": applied in order
        if one not in system_cls.presets:
            known = ", ".join(sorted(system_cls.presets)) or "none"
            raise ConfigError(f"system '{name}' has no preset '{one}' (presets: {known})")
        layers.append(system_cls.presets[one])
    layers += [file_layer, cli_layer, {"system": name, "plugins": sorted(set(wanted))}]
    config = resolve(layers)
    return _build_session(config, plugins)


def session_from_run(run_dir: Path, overrides: list[str] = ()) -> Session:
    """Reopen a run directory with its saved config (plus optional overrides)."""
    from edg.config import parse_overrides

    config = load_config(run_dir)
    if overrides:
        config = resolve([config.model_dump(mode="json"), parse_overrides(list(overrides))])
    plugins = load_for_system(config.system, config.plugins)
    return _build_session(config, plugins)


def _build_session(config: RunConfig, plugins: PluginManager) -> Session:
    system_cls = plugins.get("system", config.system)
    options = validate(system_cls.Options, config.model, prefix="model.")
    system = system_cls(config, options, plugins)
    system.registered_name = config.system
    # fail on unknown loss/reranker/knowledge names before any work is done
    for i, spec in enumerate(config.losses):
        plugins.get("loss_term", spec.name)
    if config.generation.reranker:
        plugins.get("reranker", config.generation.reranker)
    for source in system.knowledge_sources():
        plugins.get("knowledge_source", source)
    return Session(config, plugins, system)


# -- stages -----------------------------------------------------------------------------
def load_data(config: RunConfig):
    from edg.data import load_splits

    if not config.train.progress:
        import datasets

        datasets.disable_progress_bars()

    d = config.data
    limits = {"train": d.max_train, "valid": d.max_valid, "test": d.max_test}
    return load_splits(d.path, source=d.source, context_window=d.context_window,
                       max_examples={k: v for k, v in limits.items() if v is not None} or None,
                       cache_dir=d.cache_dir)


def annotate_knowledge(session: Session, splits: dict[str, Any], progress: bool = True) -> dict[str, Any]:
    sources = session.system.knowledge_sources()
    if not sources:
        return splits
    from edg.interfaces.component import build
    from edg.knowledge import KnowledgeCache, annotate

    cache = KnowledgeCache()
    for name, options in sources.items():
        cls = session.plugins.get("knowledge_source", name)
        source = build(cls, options, name=name, key=f"knowledge.{name}")
        try:
            splits = {split: annotate(source, ds, cache, progress=progress) for split, ds in splits.items()}
        finally:
            source.close()
    return splits


def prepare_tokenizer(session: Session, splits: dict[str, Any], run_dir: Path):
    from edg.tokenization import build_tokenizer, load_tokenizer, save_tokenizer

    tok_dir = run_dir / "tokenizer"
    if tok_dir.is_dir():
        tokenizer = load_tokenizer(tok_dir)
    else:
        train = splits["train"]
        texts = (u for ctx, tgt in zip(train["context"], train["target"]) for u in [*ctx, tgt])
        tokenizer = build_tokenizer(session.config.tokenizer, texts, session.system.special_tokens())
        if is_main_process():  # training is deterministic: other DDP ranks build the same one
            save_tokenizer(tokenizer, tok_dir)
    session.system.tokenizer = tokenizer
    return tokenizer


def build_everything(session: Session, run_dir: Path, progress: bool = True):
    splits = load_data(session.config)
    splits = annotate_knowledge(session, splits, progress)
    prepare_tokenizer(session, splits, run_dir)
    splits = session.system.prepare(splits)
    from edg.training.loop import seed_everything

    seed_everything(session.config.train.seed)  # identical initial weights for a given seed
    model = session.system.build_model()
    return splits, model


def train_run(session: Session, run_dir: Path, *, resume: bool = False) -> Any:
    from edg.training.loop import train

    splits, model = build_everything(session, run_dir, session.config.train.progress)
    losses = session.system.build_losses()
    state = train(model, session.system, losses, splits, session.config, run_dir, resume=resume)
    return splits, model, state


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def test_run(session: Session, run_dir: Path, model=None, splits=None, *, which: str = "BEST") -> dict[str, Any]:
    """Evaluate the best checkpoint on ``eval.split``; writes outputs, summary and plots."""
    from edg.evaluation import evaluate, write_outputs
    from edg.training import checkpoint as ckpt
    from edg.training.loop import select_device

    path = _checkpoint_to_use(run_dir, which)
    if model is None or splits is None:
        splits, model = build_everything(session, run_dir, session.config.train.progress)
    device = select_device(session.config.train.device)
    model.to("cpu")
    ckpt.load_weights(path, model)
    model.to(device)
    split = session.config.eval.split
    records, metrics = evaluate(model, session.system, splits[split], device=device,
                                progress=session.config.train.progress, reranker=session.system.build_reranker())
    write_outputs(run_dir / f"{split}_outputs.jsonl", records)
    summary_path = run_dir / "summary.json"
    summary = read_json(summary_path) if summary_path.exists() else {}
    summary.update({
        "system": session.config.system,
        "seed": session.config.train.seed,
        "tokenizer_kind": session.config.tokenizer.kind,
        "checkpoint": path.name,
        "best_step": int(path.name.split("-")[1]),
        split: metrics,
    })
    write_json(summary_path, summary)
    _plots(run_dir)
    from edg.reporting.report import write_report

    write_report([run_dir], run_dir)  # report.{md,csv,tex}: ours beside the published rows
    return summary


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
    """The whole job; returns the run directory."""
    if resume_dir is not None:
        run_dir = Path(resume_dir)
    else:
        run_dir = new_run_dir(session.config) if is_main_process() else None
        run_dir = _broadcast_run_dir(run_dir)
    if is_main_process():
        save_config(run_dir, session.config)
        write_json(run_dir / "env.json", environment_info(session.plugin_versions))
    splits, model, state = train_run(session, run_dir, resume=resume_dir is not None)
    if is_main_process():
        summary_path = run_dir / "summary.json"
        summary = read_json(summary_path) if summary_path.exists() else {}
        summary.update({"system": session.config.system, "steps": state.step, "best_step": state.best_step,
                        "best_valid_loss": state.best_valid, "stopped_early": state.stopped_early})
        write_json(summary_path, summary)
        if evaluate:
            test_run(session, run_dir, model, splits)
    return run_dir


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
