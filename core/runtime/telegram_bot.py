"""The bot object the Application uses: PTB's ExtBot, tolerant of malformed updates.

PTB parses a whole getUpdates batch at once; one update it cannot parse makes the batch
fail, the offset never advances, and the same batch is fetched forever (and logged in full,
names and texts included). Here each update is checked on its own: one that cannot be
parsed is replaced by an empty Update with the same id, so it is confirmed and skipped.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import ExtBot

from core import logs

log = logs.get("telegram_bot")


class VigieBot(ExtBot[int]):
    # The updates of the last getUpdates, as parsed by the check: the inbox takes them
    # (`parsed`) instead of parsing each update a second time.
    _checked: dict[int, Update]

    async def _post(self, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        result = await super()._post(endpoint, *args, **kwargs)
        if endpoint == "getUpdates" and isinstance(result, list):
            self._checked = {}
            return [self._parseable(item) for item in result]
        return result

    def _parseable(self, item: Any) -> Any:
        update_id = item.get("update_id") if isinstance(item, dict) else None
        try:
            update = Update.de_json(item, self)
        except Exception as error:
            log.warning("update.malformed", update_id=update_id, error=type(error).__name__)
            return {"update_id": update_id if isinstance(update_id, int) else 0}
        self._checked[update.update_id] = update
        return item

    def parsed(self, update_id: int) -> Update | None:
        """The update of the last getUpdates with this id, parsed by the check, once."""
        checked = getattr(self, "_checked", None)
        return checked.pop(update_id, None) if checked else None
