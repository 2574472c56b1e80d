"""Pushes pending updates to the bot's webhook, one at a time and in order."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

from emulator.state import JSON, State, Webhook, now_timestamp

DELIVERY_TIMEOUT = 10.0


class WebhookPusher:
    """A background thread delivering updates while a webhook is set.

    An update leaves the queue only once the webhook answered 2xx; any other answer or a
    network failure is recorded in getWebhookInfo and retried after `retry_delay` seconds.
    """

    def __init__(self, state: State, retry_delay: float):
        self._state = state
        self.retry_delay = retry_delay
        # Webhooks on 127.0.0.1 must not go through an HTTP proxy from the environment.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._thread = threading.Thread(target=self._run, name="emulator-webhook", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        """Wait for the thread to end; the caller has set state.stopped and notified."""
        self._thread.join(timeout=DELIVERY_TIMEOUT + 1)

    def _run(self) -> None:
        state = self._state
        while True:
            with state.changed:
                state.changed.wait_for(lambda: state.stopped or self._next() is not None)
                if state.stopped:
                    return
                webhook, update = self._next() or (None, None)
            if webhook is None or update is None:
                continue
            error = self._post(webhook, update)
            with state.changed:
                if error is None:
                    state.updates.remove(update["update_id"])
                    continue
                webhook.last_error_date = now_timestamp()
                webhook.last_error_message = error
                state.changed.wait_for(lambda: state.stopped, self.retry_delay)

    def _next(self) -> tuple[Webhook, JSON] | None:
        webhook = self._state.updates.webhook
        pending = self._state.updates.pending()
        if webhook is None or not pending:
            return None
        return webhook, pending[0]

    def _post(self, webhook: Webhook, update: JSON) -> str | None:
        """Deliver one update; return Telegram's kind of error message, or None on 2xx."""
        headers = {"Content-Type": "application/json"}
        if webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
        request = urllib.request.Request(
            webhook.url, data=json.dumps(update).encode(), headers=headers, method="POST"
        )
        try:
            with self._opener.open(request, timeout=DELIVERY_TIMEOUT) as response:
                response.read()
                return None
        except urllib.error.HTTPError as error:
            return f"Wrong response from the webhook: {error.code} {error.reason}"
        except (OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            return f"Connection failed: {reason}"
