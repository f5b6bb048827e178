"""Entity (noun) extraction for ``comet.entity``.

The extractor is chosen with the option ``entity_extractor``; the one actually used is
part of the source's fingerprint (it changes which knowledge is generated, so answers
of different extractors never mix in the cache):

* ``nltk``: nouns by part-of-speech tag (``NN``, ``NNS``) from ``nltk.pos_tag``, as the
  NEC paper (§4.2). Needs NLTK's tagger data (``averaged_perceptron_tagger_eng``), which
  no package registry installs; without it the extractor raises a ``ResourceError``
  naming the resource and the alternatives.
* ``pattern``: nouns (``NN``, ``NNS``) by TextBlob's Pattern tagger, whose lexicon and
  rules ship inside the ``textblob`` wheel (a dependency of edg-comet): works offline on
  any machine where edg-comet is installed.
* ``auto`` (default): ``nltk`` when its tagger data is installed (the paper's tagger),
  otherwise ``pattern``. The choice is made once, when the source is built, logged, and
  recorded in the fingerprint.
* ``wordnet``: lookup in WordNet 3.0's noun index ``index.noun`` in ``wordnet_dir``
  (default ``/usr/share/wordnet``, the Debian package ``wordnet-base``); kept for
  reproducing earlier runs. Coarser than tagging: "run" in "I run" counts as a noun.

All tokenise with the same regex (letters with inner apostrophes/hyphens; a possessive
``'s`` is split off) and return lowercased entities in order of first appearance, without
duplicates, without stopwords (pronouns, function words and frequent dialogue words that
taggers or WordNet take for nouns) and without words containing an apostrophe.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from edg.errors import ConfigError, DataError, ResourceError

log = logging.getLogger("edg.comet")

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


def _tokens(text: str) -> list[str]:
    """Regex word tokens in their original casing, a possessive ``'s`` split off
    ("friend's" -> "friend", "'s") so that the tagger sees the noun."""
    out: list[str] = []
    for word in _WORD.findall(text.replace("’", "'")):
        if word.lower().endswith("'s") and len(word) > 2:
            out.extend((word[:-2], word[-2:]))
        else:
            out.append(word)
    return out


def _nouns(tagged: list[tuple[str, str]]) -> list[str]:
    """Lowercased ``NN``/``NNS`` words of a tagged sentence, filtered and deduplicated."""
    nouns = [w.lower() for w, tag in tagged if tag in NOUN_TAGS]
    return _dedupe([w for w in nouns if w not in STOPWORDS and len(w) > 1 and "'" not in w])


def _dedupe(words: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for word in words:
        if word not in seen:
            seen.add(word)
            out.append(word)
    return out


# ---------------------------------------------------------------------------------------
def nltk_tagger_installed() -> bool:
    """Whether NLTK's part-of-speech tagger data can be loaded here."""
    import nltk

    try:
        nltk.pos_tag(["test"])
    except LookupError:
        return False
    return True


class NltkNounExtractor:
    """Nouns by NLTK part-of-speech tag."""

    name = "nltk"

    def __init__(self) -> None:
        import nltk

        self._nltk = nltk
        self.check()

    def describe(self) -> dict[str, Any]:
        return {"entity_extractor": self.name, "tagger": f"nltk {self._nltk.__version__} pos_tag"}

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
                f"entity_extractor to pattern (offline tagger shipped with textblob) or auto"
            ) from None

    def __call__(self, text: str) -> list[str]:
        return _nouns(self._nltk.pos_tag(_tokens(text)))  # regex tokens: no 'punkt' data needed


# ---------------------------------------------------------------------------------------
class PatternNounExtractor:
    """Nouns by TextBlob's Pattern tagger (lexicon and rules inside the textblob wheel)."""

    name = "pattern"

    def __init__(self) -> None:
        from importlib.metadata import version

        from textblob.en import tag

        self._tag = tag
        self._version = version("textblob")

    def describe(self) -> dict[str, Any]:
        return {"entity_extractor": self.name, "tagger": f"textblob {self._version} PatternTagger"}

    def __call__(self, text: str) -> list[str]:
        tokens = _tokens(text)
        if not tokens:
            return []
        # tokenize=False: the Pattern tagger splits on spaces, so it sees exactly our tokens
        return _nouns(self._tag(" ".join(tokens), tokenize=False))


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

    name = "wordnet"

    def __init__(self, wordnet_dir: str = DEFAULT_WORDNET_DIR) -> None:
        self.wordnet_dir = str(Path(wordnet_dir).expanduser().resolve())
        self.lemmas, self.irregular = read_wordnet_nouns(str(wordnet_dir))

    def describe(self) -> dict[str, Any]:
        return {"entity_extractor": self.name, "wordnet_dir": self.wordnet_dir, "nouns": len(self.lemmas)}

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


EXTRACTORS = ("auto", "nltk", "pattern", "wordnet")


def make_extractor(kind: str, wordnet_dir: str = DEFAULT_WORDNET_DIR) -> Callable[[str], list[str]]:
    """The entity extractor configured by ``entity_extractor``; ``auto`` resolves to
    ``nltk`` when NLTK's tagger data is installed, else to ``pattern`` (logged; the
    extractor's ``describe()`` says which one it is)."""
    if kind == "auto":
        kind = "nltk" if nltk_tagger_installed() else "pattern"
        log.info("comet.entity: entity_extractor auto -> %s%s", kind,
                 "" if kind == "nltk" else " (NLTK's tagger data is not installed)")
    if kind == "nltk":
        return NltkNounExtractor()
    if kind == "pattern":
        return PatternNounExtractor()
    if kind == "wordnet":
        return WordnetNounExtractor(wordnet_dir)
    raise ConfigError(f"unknown entity extractor {kind!r} (expected one of {', '.join(EXTRACTORS)})")
