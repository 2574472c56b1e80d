"""The buttons of the tips flow: under a tip given on demand, one per topic."""

from __future__ import annotations

from dataclasses import dataclass

from core.buttons import Button
from handlers.tips.catalogue import Topic


@dataclass(frozen=True)
class TipTopic(Button, prefix="tip_topic"):
    """Another tip, of this topic."""

    topic: Topic
