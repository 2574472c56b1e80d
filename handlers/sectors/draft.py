"""The sector whose new name is being typed, kept in `user_data` (so across a restart)."""

from __future__ import annotations

from dataclasses import dataclass

from core.drafts import draft


@draft("sector_admin")
@dataclass
class SectorDraft:
    sector_id: int | None = None  # None: a new sector's name is being typed
