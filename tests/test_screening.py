"""The description screen, number plates and similarity (pure functions)."""

from __future__ import annotations

import pytest

from core.screening import Flag, plate_in, screen, similar, sounds_like_emergency


@pytest.mark.parametrize(
    ("text", "flags"),
    [
        ("Une camionnette blanche fait le tour du lotissement, deux hommes en noir", []),
        ("Un individu en sweat rouge regarde dans les boîtes aux lettres", []),
        ("Ce connard de voisin a encore tagué le mur", [Flag.INSULT]),
        ("Des Roms traînent près de l'école", [Flag.DISCRIMINATION]),
        ("Un type maghrébin louche rue Pasteur", [Flag.DISCRIMINATION]),
        ("C'est M. Dupont qui a cassé la vitre", [Flag.NAMED_PERSON]),
        ("c'est le fils des voisins du 12", [Flag.NAMED_PERSON]),
        ("Appelez-moi au 06 12 34 56 78", [Flag.PHONE]),
        ("joignable au +33 6 12 34 56 78 ou jean.d@exemple.fr", [Flag.PHONE, Flag.EMAIL]),
    ],
)
def test_screen(text: str, flags: list[Flag]) -> None:
    assert screen(text) == flags


def test_emergency_words_are_found_without_accents_or_case() -> None:
    assert sounds_like_emergency("Cambriolage EN COURS chez le voisin")
    assert sounds_like_emergency("un homme blessé devant la boulangerie")
    assert not sounds_like_emergency("voiture garée depuis trois jours")


@pytest.mark.parametrize(
    ("text", "plate"),
    [("Clio grise immatriculée AB-123-CD", "AB123CD"), ("plaque ab 123 cd", "AB123CD"),
     ("une 205 immatriculée 1234 AB 56", "1234AB56"), ("plaque belge 1-ABC-123", "1ABC123"),
     ("aucune plaque lisible", None)],
)
def test_plates_are_normalised(text: str, plate: str | None) -> None:
    assert plate_in(text) == plate


def test_similarity_of_two_accounts_of_the_same_thing() -> None:
    first = "Camionnette blanche qui tourne lentement dans le lotissement des Tilleuls"
    second = "Une camionnette blanche tourne lentement dans le lotissement"
    assert similar(first, second)
    assert not similar(first, "Tag sur le mur de la salle des fêtes")
