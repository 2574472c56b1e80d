"""Webhook mode: Telegram's request is answered only once its update is stored in the inbox.

PTB's own webhook server answers as soon as the update is in an in-memory queue, so a crash
right after loses it (Telegram saw a 200 and will not send it again). This receiver stores
the raw update first (core/inbox.py), then answers 200; if storing fails it answers 503 and
Telegram sends it again later. A repeated update id is stored once, handled once.

Telegram delivers one update at a time (`max_connections=1`): storing takes milliseconds, and
updates then arrive in Telegram's order, which conversations rely on.
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Any

import tornado.web
from telegram import Bot, Update
from tornado.httpserver import HTTPServer

from core import logs
from core.runtime.inbox import UpdateInbox
from core.settings import WebhookSettings

log = logs.get("webhook")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class _Receive(tornado.web.RequestHandler):
    def initialize(self, inbox: UpdateInbox, secret: str) -> None:
        self.inbox = inbox
        self.secret = secret

    async def post(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning("webhook.refused", reason="secret token")
            self.set_status(403)
            return
        try:
            update = json.loads(self.request.body)
        except ValueError:
            update = None
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            log.warning("webhook.refused", reason="not an update")
            self.set_status(400)
            return
        try:
            await self.inbox.accept([update])
        except Exception:
            log.exception("webhook.store_failed", update_id=update["update_id"])
            self.set_status(503)  # Telegram sends it again later
            return
        self.set_status(200)


class _App(tornado.web.Application):
    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """Silenced: our own log lines say what matters, with ids only."""


class WebhookReceiver:
    def __init__(self, inbox: UpdateInbox, settings: WebhookSettings) -> None:
        assert settings.public_url is not None and settings.secret_token is not None
        self.inbox = inbox
        self.settings = settings
        self._server: HTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.settings.public_url is not None
        return f"{self.settings.public_url.rstrip('/')}/{self.settings.url_path}"

    async def start(self, bot: Bot) -> None:
        """Listen, then tell Telegram where to deliver (pending updates are kept)."""
        assert self.settings.secret_token is not None
        secret = self.settings.secret_token.get_secret_value()
        path = "/" + self.settings.url_path.strip("/")
        shared = {"inbox": self.inbox, "secret": secret}
        handlers: list[Any] = [(rf"{re.escape(path)}/?", _Receive, shared)]
        self._server = HTTPServer(_App(handlers))
        self._server.listen(self.settings.port, address=self.settings.listen)
        await bot.set_webhook(url=self.url, secret_token=secret, max_connections=1,
                              allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
        log.info("webhook.listening", port=self.settings.port)

    async def stop(self) -> None:
        """Stop accepting; the webhook stays set, so Telegram keeps what arrives meanwhile."""
        if self._server is None:
            return
        self._server.stop()
        await self._server.close_all_connections()
        self._server = None
