"""Knowledge source ``kemp.concepts``: each context word's emotion intensity and its
emotion-ranked ConceptNet neighbours -- the nodes of KEMP's emotional context graph
(Li et al., 2022, "Emotional Context Graph"; the authors' ``data/preprocess.py``).

A request is one distinct lowercased word of the context; its answer is
``{"intensity": eta(word), "concepts": [...], "intensities": [...]}``:

* ``intensity``: KEMP's emotion intensity (``kemp_emotion_intensity``) from the NRC VAD
  lexicon, 0 for words outside it;
* ``concepts``: for a word that is not a stopword, its ConceptNet neighbours (English,
  single words, confidence ``weight >= min_weight``, relation not in ``removed_relations``)
  that are not stopwords and whose intensity is at least ``min_intensity``, ranked by
  intensity (highest first) and cut to ``max_concepts_per_word``.

The core caches answers per word (``edg.knowledge_cache``): ConceptNet (34 M lines) is read
once, for all the words the cache misses, in one pass. The sample gets one column
``kemp_concepts`` = ``{"words", "intensity", "concepts", "concept_intensity"}`` (parallel
lists); the KEMP system maps it onto its token positions when it encodes the split.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Optional

from edg.config import StrictModel
from edg.errors import ConfigError
from edg.interfaces.knowledge import KnowledgeSource
from edg_baselines.conceptnet_assertions import missing_conceptnet_error, read_conceptnet_neighbours
from edg_baselines.kemp_emotion_intensity import INTENSITY_MIN, INTENSITY_RANGE, emotion_intensity

#: relations the authors' preprocessing drops (``REMOVE_RELATIONS``)
REMOVED_RELATIONS = ["Antonym", "ExternalURL", "NotDesires", "NotHasProperty", "NotCapableOf", "dbpedia",
                     "DistinctFrom", "EtymologicallyDerivedFrom", "EtymologicallyRelatedTo", "SymbolOf", "FormOf",
                     "AtLocation", "DerivedFrom", "CreatedBy", "Synonym", "MadeOf"]
#: NLTK's English stopword list (the list the authors filter queries and concepts with)
STOPWORDS = frozenset("""
i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him his
himself she she's her hers herself it it's its itself they them their theirs themselves what which who whom this
that that'll these those am is are was were be been being have has had having do does did doing a an the and but
if or because as until while of at by for with about against between into through during before after above below
to from up down in out on off over under again further then once here there when where why how all any both each
few more most other some such no nor not only own same so than too very s t can will just don don't should
should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't
haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't
weren weren't won won't wouldn wouldn't
""".split())
HANDMADE_CONCEPTNET = "conceptnet_handmade.csv"
_WORD = re.compile(r"[a-z]+")


def handmade_conceptnet_path() -> Path:
    """edg-baselines' small hand-made graph in ConceptNet's CSV layout (package data; smoke runs)."""
    return Path(__file__).resolve().parent / HANDMADE_CONCEPTNET


def context_words(context: list[str]) -> list[str]:
    """The distinct lowercased letter-only words of a context, in order of first use."""
    seen: dict[str, None] = {}
    for utterance in context:
        for word in _WORD.findall(utterance.lower()):
            seen.setdefault(word, None)
    return list(seen)


class KempConceptsOptions(StrictModel):
    conceptnet_path: Optional[str] = None
    """ConceptNet's assertions CSV (``conceptnet-assertions-5.7.0.csv[.gz]``)."""
    handmade_conceptnet: bool = False
    """Use edg-baselines' small hand-made graph instead (smoke runs; not ConceptNet)."""
    use_conceptnet: bool = True
    """False: intensities only, no concepts (KEMP w/o ECE needs no graph)."""
    lexicon_path: Optional[str] = None
    """NRC-VAD-Lexicon.txt (read with edg-vad's loader)."""
    handmade_lexicon: bool = False
    """Use edg-vad's hand-made lexicon instead (smoke runs; not NRC's values)."""
    min_weight: float = 1.0
    """ConceptNet confidence threshold (the authors' ``weight < 1.0`` filter)."""
    removed_relations: list[str] = list(REMOVED_RELATIONS)
    min_intensity: float = 0.6
    """Concepts below this emotion intensity are dropped (the authors' 0.6)."""
    max_concepts_per_word: int = 5
    """Candidates kept per word; the system keeps the first ``concepts_per_word`` of them
    that its vocabulary has (the authors: 1)."""
    intensity_min: float = INTENSITY_MIN
    intensity_range: float = INTENSITY_RANGE


def _file_identity(path: Path, hash_content: bool) -> dict[str, Any]:
    stat = path.stat()
    out: dict[str, Any] = {"name": path.name, "size": stat.st_size}
    if hash_content:  # small packaged files: their content; the 34 M-line dump: size and mtime
        out["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    else:
        out["mtime_ns"] = stat.st_mtime_ns
    return out


class KempConceptSource(KnowledgeSource):
    Options = KempConceptsOptions
    #: every missing word in one compute call: ConceptNet is streamed once per annotation
    batch_size = 1_000_000

    def __init__(self, options: KempConceptsOptions) -> None:
        super().__init__(options)
        if options.max_concepts_per_word < 1:
            raise ConfigError(f"knowledge.kemp.concepts.max_concepts_per_word must be >= 1, "
                              f"got {options.max_concepts_per_word}")
        from edg_vad.lexicon import handmade_lexicon_path, missing_lexicon_error

        if options.handmade_lexicon:
            self.lexicon_file = handmade_lexicon_path()
        elif options.lexicon_path:
            self.lexicon_file = Path(options.lexicon_path).expanduser()
        else:
            raise missing_lexicon_error(None)
        if not self.lexicon_file.is_file():
            raise missing_lexicon_error(self.lexicon_file)
        self.conceptnet_file: Optional[Path] = None
        if options.use_conceptnet:
            if options.handmade_conceptnet:
                self.conceptnet_file = handmade_conceptnet_path()
            elif options.conceptnet_path:
                self.conceptnet_file = Path(options.conceptnet_path).expanduser()
            else:
                raise missing_conceptnet_error(None, "knowledge.kemp.concepts.conceptnet_path")
            if not self.conceptnet_file.is_file():
                raise missing_conceptnet_error(self.conceptnet_file, "knowledge.kemp.concepts.conceptnet_path")

    @property
    def field(self) -> str:
        return "kemp_concepts"

    def fingerprint(self) -> dict[str, Any]:
        o = self.options
        return {
            "source": "kemp.concepts", "version": 1,
            "lexicon": _file_identity(self.lexicon_file, o.handmade_lexicon),
            "conceptnet": None if self.conceptnet_file is None
            else _file_identity(self.conceptnet_file, o.handmade_conceptnet),
            "min_weight": o.min_weight, "removed_relations": sorted(o.removed_relations),
            "min_intensity": o.min_intensity, "max_concepts_per_word": o.max_concepts_per_word,
            "intensity": [o.intensity_min, o.intensity_range],
        }

    def requests(self, sample: dict[str, Any]) -> list[str]:
        return context_words(sample["context"])

    def _intensity(self, lexicon: dict[str, tuple[float, float, float]], word: str) -> float:
        vad = lexicon.get(word)
        if vad is None:
            return 0.0
        return emotion_intensity(vad[0], vad[1], low=self.options.intensity_min, span=self.options.intensity_range)

    def compute(self, requests: list[str]) -> list[dict[str, Any]]:
        from edg_vad.lexicon import load_lexicon

        o = self.options
        lexicon = load_lexicon(self.lexicon_file)
        queries = [w for w in requests if w not in STOPWORDS]
        neighbours = {} if self.conceptnet_file is None else read_conceptnet_neighbours(
            self.conceptnet_file, words=queries, min_weight=o.min_weight, removed_relations=o.removed_relations,
            key="knowledge.kemp.concepts.conceptnet_path")
        answers = []
        for word in requests:
            ranked = []
            if word not in STOPWORDS:
                for concept, _relation, _weight in neighbours.get(word, ()):
                    eta = self._intensity(lexicon, concept) if concept in lexicon else None
                    if concept not in STOPWORDS and eta is not None and eta >= o.min_intensity:
                        ranked.append((concept, eta))
            # ranked by intensity (the paper); Python's sort is stable, so ties keep file order
            ranked.sort(key=lambda item: -item[1])
            ranked = ranked[: o.max_concepts_per_word]
            answers.append({"intensity": self._intensity(lexicon, word), "concepts": [c for c, _ in ranked],
                            "intensities": [eta for _, eta in ranked]})
        return answers

    def attach(self, sample: dict[str, Any], requests: list[Any], answers: list[Any]) -> dict[str, list]:
        return {
            "words": list(requests),
            "intensity": [float(a["intensity"]) for a in answers],
            "concepts": [list(a["concepts"]) for a in answers],
            "concept_intensity": [[float(x) for x in a["intensities"]] for a in answers],
        }
