"""Entity (noun) extraction for ``comet.entity``.

Two extractors, chosen explicitly with the option ``entity_extractor`` (never swapped
silently, since they give different entities and so different knowledge):

* ``nltk`` (default): nouns by part-of-speech tag (``NN``, ``NNS``) from ``nltk.pos_tag``.
  Needs NLTK's tagger data (``averaged_perceptron_tagger_eng``); without it the extractor
  raises a ``ResourceError`` naming the missing resource and the ``wordnet`` fallback.
* ``wordnet``: offline fallback without a tagger. A word is a noun if it (or its singular,
  by WordNet's own plural rules and ``noun.exc``) is in WordNet's noun index
  ``index.noun``, read from ``wordnet_dir`` (default ``/usr/share/wordnet``, the Debian
  package ``wordnet-base``). Words that are nouns in WordNet but mostly function words or
  verbs in dialogue ("i", "have", "feel", ...) are dropped by a stopword list. It is
  coarser than tagging: "run" in "I run" counts as a noun.

Both return lowercased entities in order of first appearance, without duplicates.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Callable

from edg.errors import DataError, ResourceError

DEFAULT_WORDNET_DIR = "/usr/share/wordnet"
NOUN_TAGS = ("NN", "NNS")

# Words (simple regex tokens: letters, inner apostrophes and hyphens).
_WORD = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")

#: Function words and frequent dialogue verbs/adjectives that WordNet also lists as nouns.
STOPWORDS: frozenset[str] = frozenset(
    """
    a an the and or but if then than so as of at by for with about against between into through
    during before after above below to from up down in out on off over under again further once
    here there when where why how all any both each few more most other some such no nor not only
    own same too very can will just don should now i me my myself we our ours ourselves you your
    yours yourself yourselves he him his himself she her hers herself it its itself they them their
    theirs themselves what which who whom this that these those am is are was were be been being
    have has had having do does did doing would could ought shall may might must get got gets
    getting go goes going went gone make made makes making take took taken know knew known think
    thought feel felt feeling feelings like liked want wanted need needed say said tell told see
    saw seen come came look looked give gave use used try tried let lot lots thing things stuff
    way ways yes yeah oh ok okay well really good great bad nice sure right wrong one ones two
    much many still even also ever never always something anything nothing everything someone
    anyone everyone somebody anybody everybody time times day days today yesterday tomorrow year
    years week weeks month months last next first new old little big long bit kind sort back
    hope hopes glad sorry love loved hate mean means lol wow hey hi hello thanks thank please
    best better worst ate eat eats spent spend put found left felt keep kept start started end
    im ive id youre dont didnt cant wont isnt wasnt thats whats
    """.split()
)


def _words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def _dedupe(words: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for word in words:
        if word not in seen:
            seen.add(word)
            out.append(word)
    return out


# ---------------------------------------------------------------------------------------
class NltkNounExtractor:
    """Nouns by NLTK part-of-speech tag."""

    def __init__(self) -> None:
        import nltk

        self._nltk = nltk
        self.check()

    def check(self) -> None:
        """Fail early, naming the missing NLTK resource and the offline fallback."""
        try:
            self._nltk.pos_tag(["test"])
        except LookupError as exc:
            match = re.search(r"Resource '?([\w.]+)'? not found", str(exc))
            resource = match.group(1) if match else "averaged_perceptron_tagger_eng"
            raise ResourceError(
                f"NLTK resource '{resource}' is not installed (needed by entity_extractor: nltk); "
                f"install it with nltk.download('{resource}'), or set the option "
                f"entity_extractor: wordnet to use WordNet's noun index offline"
            ) from None

    def __call__(self, text: str) -> list[str]:
        tokens = _WORD.findall(text)  # regex tokens: no 'punkt' data needed
        tagged = self._nltk.pos_tag(tokens)
        nouns = [w.lower() for w, tag in tagged if tag in NOUN_TAGS]
        return _dedupe([w for w in nouns if w not in STOPWORDS and len(w) > 1])


# ---------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def read_wordnet_nouns(wordnet_dir: str) -> tuple[frozenset[str], dict[str, str]]:
    """Single-word noun lemmas of ``index.noun`` and the irregular plurals of ``noun.exc``."""
    directory = Path(wordnet_dir).expanduser()
    index = directory / "index.noun"
    if not index.is_file():
        raise ResourceError(
            f"WordNet noun index not found: {index} (entity_extractor: wordnet); install the "
            f"Debian package wordnet-base (apt-get install wordnet-base) or set the option "
            f"wordnet_dir to a directory with WordNet 3.0's dict files"
        )
    lemmas: set[str] = set()
    with index.open(encoding="utf-8", errors="replace") as handle:
        for lineno, line in enumerate(handle, 1):
            if line.startswith(" ") or not line.strip():  # licence header
                continue
            lemma, _, rest = line.partition(" ")
            if not rest.startswith("n "):
                raise DataError(f"{index}:{lineno}: not a WordNet noun index line: {line[:60]!r}")
            if "_" not in lemma:  # multi-word lemmas cannot match single tokens
                lemmas.add(lemma)
    irregular: dict[str, str] = {}
    exceptions = directory / "noun.exc"
    if exceptions.is_file():
        for line in exceptions.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 2:
                irregular[parts[0]] = parts[1]
    return frozenset(lemmas), irregular


# WordNet's morphological rules for nouns (morphy): plural suffix -> singular suffix.
_NOUN_SUFFIXES = (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y"))


class WordnetNounExtractor:
    """Nouns by lookup in WordNet's noun index (no tagger needed)."""

    def __init__(self, wordnet_dir: str = DEFAULT_WORDNET_DIR) -> None:
        self.lemmas, self.irregular = read_wordnet_nouns(str(wordnet_dir))

    def is_noun(self, word: str) -> bool:
        if word in self.lemmas:
            return True
        if word in self.irregular:
            return self.irregular[word] in self.lemmas
        return any(
            word.endswith(suffix) and word[: len(word) - len(suffix)] + base in self.lemmas
            for suffix, base in _NOUN_SUFFIXES
        )

    def __call__(self, text: str) -> list[str]:
        words = [w for w in _words(text) if len(w) > 1 and w not in STOPWORDS]
        return _dedupe([w for w in words if "'" not in w and self.is_noun(w)])


def make_extractor(kind: str, wordnet_dir: str = DEFAULT_WORDNET_DIR) -> Callable[[str], list[str]]:
    """The entity extractor configured by ``entity_extractor`` (``nltk`` or ``wordnet``)."""
    if kind == "nltk":
        return NltkNounExtractor()
    if kind == "wordnet":
        return WordnetNounExtractor(wordnet_dir)
    raise ValueError(f"unknown entity extractor {kind!r} (expected 'nltk' or 'wordnet')")
