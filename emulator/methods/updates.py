"""Getting updates: long polling and webhooks (delivered by emulator.webhook)."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

from emulator.errors import bad_request, conflict
from emulator.methods.base import Params, method
from emulator.state import JSON, State, Webhook

MAX_LONG_POLL_SECONDS = 50
_WEBHOOK_ACTIVE = (
    "can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
    "webhook first"
)
_TERMINATED = (
    "terminated by other getUpdates request; make sure that only one bot instance is running"
)
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


@method("getUpdates")
def get_updates(state: State, params: Params) -> list[JSON]:
    """Answer at once if updates are pending, else wait up to `timeout` for the first one.

    Runs with the state lock held; waiting on `state.changed` releases it meanwhile.
    """
    queue = state.updates
    if queue.webhook is not None:
        raise conflict(_WEBHOOK_ACTIVE)
    offset = params.integer("offset", 0) or 0
    limit = min(max(params.integer("limit", 100) or 100, 1), 100)
    timeout = min(max(params.number("timeout"), 0.0), MAX_LONG_POLL_SECONDS)
    queue.subscribe(params.structured("allowed_updates"))
    queue.poll_generation += 1
    generation = queue.poll_generation
    state.changed.notify_all()  # an older long poll wakes up, sees it lost, answers 409
    queue.confirm(offset)
    deadline = time.monotonic() + timeout
    while True:
        if queue.poll_generation != generation:
            raise conflict(_TERMINATED)
        if queue.webhook is not None:
            raise conflict(_WEBHOOK_ACTIVE)
        pending = queue.pending()[:limit]
        remaining = deadline - time.monotonic()
        if pending or remaining <= 0 or state.stopped:
            return pending
        queue.waiting_polls += 1
        try:
            state.changed.wait(remaining)
        finally:
            queue.waiting_polls -= 1


@method("setWebhook")
def set_webhook(state: State, params: Params) -> bool:
    url = params.text("url") or ""
    if not url:
        return _remove_webhook(state, params)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request("bad webhook: invalid webhook URL specified")
    secret = params.text("secret_token")
    if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    queue = state.updates
    queue.webhook = Webhook(
        url=url,
        secret_token=secret,
        max_connections=params.integer("max_connections", 40) or 40,
    )
    queue.subscribe(params.structured("allowed_updates"))
    if params.boolean("drop_pending_updates"):
        queue.drop_all()
    state.changed.notify_all()
    return True


@method("deleteWebhook")
def delete_webhook(state: State, params: Params) -> bool:
    return _remove_webhook(state, params)


@method("getWebhookInfo")
def get_webhook_info(state: State, params: Params) -> JSON:
    queue = state.updates
    webhook = queue.webhook
    info: JSON = {
        "url": webhook.url if webhook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(queue.pending()),
    }
    if webhook is not None:
        info["max_connections"] = webhook.max_connections
        if webhook.last_error_date is not None:
            info["last_error_date"] = webhook.last_error_date
            info["last_error_message"] = webhook.last_error_message
        info["allowed_updates"] = sorted(queue.allowed)
    return info


def _remove_webhook(state: State, params: Params) -> bool:
    state.updates.webhook = None
    if params.boolean("drop_pending_updates"):
        state.updates.drop_all()
    state.changed.notify_all()
    return True
