"""The --demo walk-through runs to its end and shows each step's outcome."""

from __future__ import annotations

import pytest

from demo.walkthrough import run_demo


async def test_demo_walks_through_to_the_end(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_demo(quiet=False) == 0  # keep the suite's own log set-up
    out = capsys.readouterr().out
    for expected in (
        "=== 1. L'élue écrit au bot",
        "[groupe Centre-bourg] Ce groupe est maintenant le groupe du secteur Centre-bourg",
        "[Roland] Bienvenue ! Vous avez rejoint le groupe du secteur Centre-bourg",
        "[groupe Centre-bourg] Nous avons un nouveau référent",
        "[Roland] Demande pour rejoindre le groupe du secteur Centre-bourg",
        "Rue déclarée : Rue des Lilas",
        "[Bob] Bienvenue ! Vous avez rejoint le groupe du secteur Les Hauts",
        "[groupe Centre-bourg] Cette action est réservée aux élus",
        "[Roland] 🔎 Signalement n°1",
        "[gendarmerie (groupe liaison)] 🔎 Signalement n°1",
        "[Alice] Votre signalement n°1 : patrouille informée.",
        "Fin de la démonstration",
    ):
        assert expected in out, expected
