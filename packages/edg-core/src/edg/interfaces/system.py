"""System: a registered recipe that wires components by name.

``edg run --plugin nec`` resolves the config, loads the data, lets the system annotate it
with its knowledge sources, builds the tokenizer and the model, trains with the
configured loss terms and evaluates with the configured decoding and reranker. A system
only describes *what* to build; the pipeline (:mod:`edg.pipeline`) and the training loop
(:mod:`edg.training.loop`) are shared by all systems.

Components are looked up by registered name through :meth:`component`, so a plugin uses
another plugin's parts (e.g. the ``comet.social`` knowledge source) without importing it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Optional

from edg.config import RunConfig, StrictModel
from edg.interfaces.component import build
from edg.interfaces.loss import LossTerm
from edg.interfaces.model import EdgModel
from edg.interfaces.reranker import Reranker


class System(ABC):
    #: typed options of the ``model:`` config section
    Options: ClassVar[type[StrictModel]]
    #: one line for ``edg plugins``
    description: ClassVar[str] = ""
    #: named config presets (e.g. ablations): preset name -> config layer
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    #: whether evaluation reports emotion accuracy
    predicts_emotion: ClassVar[bool] = False

    registered_name: str = ""

    def __init__(self, config: RunConfig, options: StrictModel, plugins: Any) -> None:
        self.config = config
        self.options = options
        self.plugins = plugins
        self.tokenizer: Any = None
        #: training-split statistics for loss terms (their ``context.statistics``); filled
        #: by :meth:`prepare`, which must compute them from the training split only
        self.statistics: dict[str, Any] = {}
        #: fitted components by name (the fit stage fills it, :mod:`edg.fitting`)
        self.fitted: dict[str, Any] = {}

    # -- configuration -----------------------------------------------------------------
    @classmethod
    def default_config(cls) -> dict[str, Any]:
        """Run-level defaults of this system (tokenizer, losses, train, generation...)."""
        return {}

    def special_tokens(self) -> list[str]:
        """Extra special tokens the tokenizer must know (added to the core's)."""
        return []

    # -- data --------------------------------------------------------------------------
    def fitted_components(self, splits: dict[str, Any], stage: str) -> list[Any]:
        """The :class:`~edg.interfaces.fitted.FitSpec` list of components to fit at
        ``stage`` (``before_knowledge`` or ``before_prepare``) from the loaded ``splits``
        (use the training split only, or external corpora); the fitted components are
        in :attr:`fitted` by name afterwards (e.g. for :meth:`prepare`)."""
        return []

    def knowledge_sources(self) -> dict[str, dict[str, Any]]:
        """Knowledge source name -> options, annotated before training."""
        return dict(self.config.knowledge)

    def prepare(self, splits: dict[str, Any]) -> dict[str, Any]:
        """System-specific preprocessing after annotation and tokenizer training
        (e.g. training-split statistics). Must be deterministic: it runs again at
        evaluation time."""
        return splits

    #: encoded columns whose lengths sort samples into length buckets (most costly
    #: first); bucketing is off for a system whose samples lack any of them
    length_columns: ClassVar[tuple[str, ...]] = ("labels", "input_ids")

    def encode(self, batch: dict[str, list]) -> dict[str, list]:
        """Token ids of a batch of samples (columns in, new columns out), computed once
        per split before training and cached (:mod:`edg.data.encoding`), so that
        :meth:`collate` only pads. The default adds nothing: ``collate`` then receives
        raw samples and tokenizes them itself."""
        return {}

    def encoding_fingerprint(self) -> dict[str, Any]:
        """Everything besides the tokenizer and the data that changes :meth:`encode`'s
        output (truncation lengths, extra inputs)."""
        return {"tokenizer": self.config.tokenizer.model_dump(mode="json")}

    @abstractmethod
    def collate(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        """Samples (with the columns :meth:`encode` added) -> a batch of tensors (with
        ``labels`` padded by -100). Runs on every batch of every epoch: keep tokenization
        out of it."""

    # -- model -------------------------------------------------------------------------
    @abstractmethod
    def build_model(self) -> EdgModel:
        """Build the network (``self.tokenizer`` is set)."""

    def build_losses(self) -> list[tuple[str, float, LossTerm]]:
        out = []
        for i, spec in enumerate(self.config.losses):
            term = self.component("loss_term", spec.name, spec.options, key=f"losses[{i}].options")
            out.append((spec.name, spec.weight, term))
        return out

    def build_reranker(self) -> Optional[Reranker]:
        gen = self.config.generation
        if gen.reranker is None:
            return None
        return self.component("reranker", gen.reranker, gen.reranker_options, key="generation.reranker_options")

    def decode(self, token_ids: list[int]) -> str:
        return self.tokenizer.decode(token_ids, skip_special_tokens=True).strip()

    # -- helpers -----------------------------------------------------------------------
    def component(self, kind: str, name: str, options: Optional[dict[str, Any]], *, key: str, **deps: Any) -> Any:
        """Build the component registered as ``name`` of ``kind`` with validated options."""
        cls = self.plugins.get(kind, name)
        return build(cls, options, name=name, key=key, **deps)
