"""KEMP's emotion intensity of a word (Li et al., 2022, Eq. 1) from its NRC VAD values:

    eta(x) = min-max(|| [V(x) - 1/2, A(x)/2] ||_2)

The min-max normalisation uses the authors' constants (``data/preprocess.py``:
``(norm - 0.06467) / 0.607468``), so the 0.6 threshold on concepts keeps its meaning; words
outside the lexicon have intensity 0, as in the authors' preprocessing.
"""

from __future__ import annotations

import math

#: the authors' min-max constants of the raw norm
INTENSITY_MIN = 0.06467
INTENSITY_RANGE = 0.607468


def emotion_intensity(valence: float, arousal: float, *, low: float = INTENSITY_MIN,
                      span: float = INTENSITY_RANGE) -> float:
    """eta of a word with these NRC VAD valence and arousal values (in [0, 1])."""
    return (math.hypot(valence - 0.5, arousal / 2.0) - low) / span
