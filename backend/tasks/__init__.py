"""Tasks generated in code for the lessons; seeded, so the same seed gives the same text.

`long_range`: lines where one character depends on a cue `gap` characters back
(country -> language, brackets and quotes, copy after a delay), and every model's
accuracy on that character against the gap. `sentiment`: a small English and French
set with order-flipped pairs, and a many-to-one classifier of any model kind.
"""

from backend.tasks.long_range import (
    Example,
    GapCurves,
    GapTask,
    accuracy_vs_gap,
    make_task,
)
from backend.tasks.sentiment import (
    SentimentClassifier,
    running_prediction,
    train_classifier,
)

__all__ = [
    "Example",
    "GapCurves",
    "GapTask",
    "SentimentClassifier",
    "accuracy_vs_gap",
    "make_task",
    "running_prediction",
    "train_classifier",
]
