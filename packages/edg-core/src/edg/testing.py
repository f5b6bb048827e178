"""Helpers for testing edg and its plugins (pytest is imported only when needed)."""

from __future__ import annotations

import os
from pathlib import Path

#: overrides that make the ``transformer`` baseline tiny and fast (CPU tests, smoke runs)
TINY_TRANSFORMER = [
    "model.d_model=32", "model.layers=1", "model.heads=2", "model.ffn_dim=64",
    "train.batch_size=8", "train.eval_batch_size=16", "train.max_steps=12", "train.eval_every=4",
    "train.log_every=2", "train.warmup_steps=4", "train.lr=1e-3", "train.progress=false",
    "eval.batch_size=16", "generation.max_length=12",
]


def shared_data_dir() -> Path:
    """``$EDG_SHARED_DATA``, else ``../shared/data`` beside the repository checkout
    (found from this file, or from the working directory for installed copies)."""
    env = os.environ.get("EDG_SHARED_DATA")
    if env:
        return Path(env)
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for parent in start.parents:
            if (parent / "packages" / "edg-core").is_dir():
                return parent.parent / "shared" / "data"
    return Path.cwd() / ".." / "shared" / "data"


def require_shared(relative: str) -> Path:
    """A path inside the shared data for a test: skipped when absent, but a failure when
    ``CI`` is set (CI always has the data beside the clone)."""
    import pytest

    path = shared_data_dir() / relative
    if not path.exists():
        message = f"shared test data not found: {path} (set EDG_SHARED_DATA)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def first_turns(dataset) -> list[int]:
    """Indices of the first listener turn of every conversation of a turn-level split (the
    speaker's opening utterance as the whole context: learning tests that need short inputs)."""
    first: dict[str, tuple[int, int]] = {}
    for i, (conv, turn) in enumerate(zip(dataset["conv_id"], dataset["turn"])):  # columns read once
        if conv not in first or turn < first[conv][0]:
            first[conv] = (turn, i)
    return sorted(i for _, i in first.values())


def train_and_validate(system: str, run_dir: Path, overrides: list[str], *, data: str = "empatheticdialogues",
                       max_train: int = 8000, max_valid: int = 400) -> dict:
    """A learning check on real data: build ``system`` with ``overrides`` on the first
    ``max_train``/``max_valid`` samples of the shared data, take the validation losses of the
    untrained model, train (``train.max_steps`` of ``overrides``), validate again.

    Returns ``start`` and ``end`` (:func:`edg.training.loop.validation_loss` records), the
    ``steps`` trained, the training ``seconds`` and ``majority``, the share of the most
    frequent emotion in the validation split. Run it with ``EDG_CACHE`` pointing into a
    temporary directory; the thread count is restored afterwards.
    """
    import time
    from collections import Counter
    from contextlib import nullcontext

    import torch

    from edg.interfaces.loss import TrainingContext
    from edg.pipeline import build_everything, open_session
    from edg.training.loop import train, validation_loss

    path = require_shared(data)
    before = torch.get_num_threads()
    session = open_session(system, overrides=[f"data.path={path}", f"data.max_train={max_train}",
                                              f"data.max_valid={max_valid}", "data.max_test=1", *overrides])
    splits, model = build_everything(session, run_dir, progress=False)
    losses = session.system.build_losses()
    # the terms see the training context before the first validation, as in the loop
    context = TrainingContext(tokenizer=session.system.tokenizer, statistics=getattr(session.system, "statistics", {}))
    for _name, _weight, term in losses:
        term.setup(context)

    def valid():
        return validation_loss(model, session.system, losses, splits["valid"], session.config.train.eval_batch_size,
                               torch.device("cpu"), nullcontext)

    try:
        start = valid()
        began = time.perf_counter()
        state = train(model, session.system, losses, splits, session.config, run_dir)
        seconds = time.perf_counter() - began
        end = valid()
    finally:
        torch.set_num_threads(before)
    majority = Counter(splits["valid"]["emotion"]).most_common(1)[0][1] / len(splits["valid"])
    return {"start": start, "end": end, "steps": state.step, "seconds": seconds, "majority": majority}


#: where a documented command line ends and the shell takes over (redirections, pipes, lists)
SHELL_OPERATORS = (">", ">>", "<", "|", "&&", "||", ";", "&", "2>&1")


def documented_commands(page: Path) -> list[list[str]]:
    """The ``edg`` commands written in a Markdown page, each as its arguments after ``edg``.

    Read from fenced blocks (any language) and 4-space-indented blocks: ``\\`` continuations
    are joined, comments and redirections dropped, ``uv run``/``$`` prefixes skipped, and ``NAME=value``
    lines of the same block substituted into later ``$NAME`` references, as a shell would.
    """
    import re
    import shlex
    from string import Template

    text = Path(page).read_text(encoding="utf-8")
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    blocks += ["\n".join(line[4:] for line in block.splitlines())
               for block in re.findall(r"(?:^(?: {4}|\t)[^\n]*\n)+", re.sub(r"^```.*?^```", "", text, flags=re.S | re.M),
                                       flags=re.M)]
    commands = []
    for block in blocks:
        variables: dict[str, str] = {}
        for line in block.replace("\\\n", " ").splitlines():
            try:
                words = shlex.split(Template(line).safe_substitute(variables), comments=True)
            except ValueError:  # not shell (e.g. YAML or Python in a fenced block)
                continue
            if len(words) == 1 and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]):
                name, value = words[0].split("=", 1)
                variables[name] = value  # unquoted, so that $NAME splits into words as in a shell
            elif "edg" in words and words[0] in ("edg", "uv", "$", "python", "torchrun"):
                args = words[words.index("edg") + 1:]
                cut = next((i for i, w in enumerate(args) if w in SHELL_OPERATORS), len(args))
                commands.append(args[:cut])
    return commands


def run_command_session(args: list[str]):
    """Resolve a documented ``edg run``/``edg train`` command into its session (config
    validated, plugins loaded) without running it; ``--resume`` and ``--config`` commands,
    which name files of the reader's own, are only parsed. ``None`` for those."""
    from edg.cli import _overrides, build_parser, parse_arguments
    from edg.pipeline import open_session

    parsed = parse_arguments(build_parser(), args)
    if parsed.command not in ("run", "train"):
        raise ValueError(f"not an edg run/train command: edg {' '.join(args)}")
    if parsed.resume or parsed.config:
        return None
    return open_session(parsed.system, None, _overrides(parsed), extra_plugins=parsed.extra_plugins,
                        preset=parsed.preset)
