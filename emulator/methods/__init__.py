"""One function per Bot API method, registered by name in METHODS."""

# Importing the method modules is what registers their functions.
from emulator.methods import bot, chats, editing, messages, updates  # noqa: F401
from emulator.methods.base import METHODS, Params, Upload, is_sending

__all__ = ["METHODS", "Params", "Upload", "is_sending"]
