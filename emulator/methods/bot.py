"""The bot's own settings: identity, commands, menu button, files, session."""

from __future__ import annotations

import json
import re
from typing import Any

from emulator.errors import bad_request
from emulator.methods.access import known_chat
from emulator.methods.base import Params, method
from emulator.state import JSON, State

DOWNLOAD_LIMIT = 20 * 1024 * 1024
MAX_COMMANDS = 100
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_DEFAULT_SCOPE = {"type": "default"}


def scope_key(scope: Any) -> str:
    """Commands are stored per exact scope, whatever the key order the client used."""
    return json.dumps(scope or _DEFAULT_SCOPE, sort_keys=True)


@method("getMe")
def get_me(state: State, params: Params) -> JSON:
    return {
        **state.bot.to_api(),
        "can_join_groups": True,
        "can_read_all_group_messages": not state.privacy_mode,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@method("setMyCommands")
def set_my_commands(state: State, params: Params) -> bool:
    commands = params.structured("commands")
    if not isinstance(commands, list) or len(commands) > MAX_COMMANDS:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND.fullmatch(command.get("command", "")):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(command.get("description", "")) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    key = _command_key(state, params)
    stored = [{"command": c["command"], "description": c["description"]} for c in commands]
    if stored:
        state.commands[key] = stored
    else:
        state.commands.pop(key, None)
    return True


@method("deleteMyCommands")
def delete_my_commands(state: State, params: Params) -> bool:
    state.commands.pop(_command_key(state, params), None)
    return True


@method("getMyCommands")
def get_my_commands(state: State, params: Params) -> list[JSON]:
    return list(state.commands.get(_command_key(state, params), []))


@method("setChatMenuButton")
def set_chat_menu_button(state: State, params: Params) -> bool:
    chat_id = known_chat(state, params).id if params.raw("chat_id") is not None else None
    button = params.structured("menu_button") or {"type": "default"}
    if not isinstance(button, dict) or button.get("type") not in ("default", "commands", "web_app"):
        raise bad_request("can't parse menu button JSON object")
    state.menu_buttons[chat_id] = button
    return True


@method("getChatMenuButton")
def get_chat_menu_button(state: State, params: Params) -> JSON:
    chat_id = known_chat(state, params).id if params.raw("chat_id") is not None else None
    return state.menu_buttons.get(chat_id, state.menu_buttons.get(None, {"type": "default"}))


@method("getFile")
def get_file(state: State, params: Params) -> JSON:
    stored = state.files.get(params.text("file_id") or "")
    if stored is None:
        raise bad_request("wrong file_id or the file is temporarily unavailable")
    if stored.size > DOWNLOAD_LIMIT:
        raise bad_request("file is too big")
    return {**stored.to_api(), "file_path": stored.path}


@method("close")
def close(state: State, params: Params) -> bool:
    return True


@method("logOut")
def log_out(state: State, params: Params) -> bool:
    return True


def _command_key(state: State, params: Params) -> tuple[str, str]:
    scope = params.structured("scope")
    if isinstance(scope, dict) and "chat_id" in scope:
        known_chat(state, Params({"chat_id": scope["chat_id"]}))
    return scope_key(scope), params.text("language_code") or ""
