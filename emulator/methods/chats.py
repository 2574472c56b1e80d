"""Chat information, membership administration, invite links and join requests."""

from __future__ import annotations

import secrets

from emulator.errors import NOT_ENOUGH_RIGHTS, bad_request
from emulator.methods.access import (
    known_chat,
    member_chat,
    require_right,
    require_supergroup,
    target_user,
)
from emulator.methods.base import Params, method
from emulator.state import (
    ADMIN_RIGHTS,
    JSON,
    PERMISSIONS,
    Chat,
    InviteLink,
    Member,
    State,
    User,
)

_RESTRICT_RIGHTS = "not enough rights to restrict/unrestrict chat member"
_INVITE_RIGHTS = "not enough rights to manage chat invite link"
_NO_GIFTS = {
    "unlimited_gifts": False,
    "limited_gifts": False,
    "unique_gifts": False,
    "premium_subscription": False,
    "gifts_from_channels": False,
}
# What members of a new group may do, as Telegram sets it by default.
_DEFAULT_GROUP_PERMISSIONS = {
    name: name not in ("can_change_info", "can_pin_messages", "can_manage_topics")
    for name in PERMISSIONS
}
MAX_CUSTOM_TITLE = 16
MAX_LINK_NAME = 32
MAX_MEMBER_LIMIT = 99_999


# --- reading ------------------------------------------------------------------------------


@method("getChat")
def get_chat(state: State, params: Params) -> JSON:
    chat = known_chat(state, params)
    data = state.chat_json(chat)
    data.update({"accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": _NO_GIFTS})
    if chat.is_group:
        data["permissions"] = dict(_DEFAULT_GROUP_PERMISSIONS)
        primary = _primary_link(chat)
        if primary is not None and state.bot_is_admin(chat):
            data["invite_link"] = primary.url
    return data


@method("getChatMember")
def get_chat_member(state: State, params: Params) -> JSON:
    chat = member_chat(state, params)
    user = target_user(state, params)
    if chat.type == "private":
        if user.id not in (chat.id, state.bot.id):
            raise bad_request("user not found")
        return state.member_json(user.id, Member("member"))
    return state.member_json(user.id, chat.member(user.id))


@method("getChatAdministrators")
def get_chat_administrators(state: State, params: Params) -> list[JSON]:
    chat = member_chat(state, params)
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    # Telegram lists only human administrators, the owner first.
    admins = [
        (user_id, member)
        for user_id, member in chat.members.items()
        if member.status in ("creator", "administrator") and not state.users[user_id].is_bot
    ]
    admins.sort(key=lambda item: item[1].status != "creator")
    return [state.member_json(user_id, member) for user_id, member in admins]


@method("getChatMemberCount")
def get_chat_member_count(state: State, params: Params) -> int:
    chat = member_chat(state, params)
    if chat.type == "private":
        return 2
    return sum(1 for member in chat.members.values() if member.present)


# --- administering members ----------------------------------------------------------------


@method("banChatMember")
def ban_chat_member(state: State, params: Params) -> bool:
    chat, user = _administered(state, params, "can_restrict_members", _RESTRICT_RIGHTS)
    _require_manageable(state, chat, user)
    was_present = chat.member(user.id).present
    until = params.integer("until_date", 0) or 0
    state.change_member(chat, user.id, Member("kicked", until_date=until), state.bot.id)
    if was_present:
        state.post_service(chat, state.bot.id, {"left_chat_member": user.to_api()})
    if params.boolean("revoke_messages"):
        for message in chat.messages.values():
            if message.sender_id == user.id:
                message.deleted = True
    return True


@method("unbanChatMember")
def unban_chat_member(state: State, params: Params) -> bool:
    chat, user = _administered(state, params, "can_restrict_members", _RESTRICT_RIGHTS)
    standing = chat.member(user.id)
    if standing.status == "kicked":
        state.change_member(chat, user.id, Member("left"), state.bot.id)
    elif standing.present and not params.boolean("only_if_banned"):
        # Telegram guarantees the user is out afterwards, so a member is removed.
        _require_manageable(state, chat, user)
        state.change_member(chat, user.id, Member("left"), state.bot.id)
        state.post_service(chat, state.bot.id, {"left_chat_member": user.to_api()})
    return True


@method("restrictChatMember")
def restrict_chat_member(state: State, params: Params) -> bool:
    chat, user = _administered_supergroup(state, params, "can_restrict_members", _RESTRICT_RIGHTS)
    _require_manageable(state, chat, user)
    permissions = params.structured("permissions")
    if not isinstance(permissions, dict):
        raise bad_request("can't parse permissions JSON object")
    rights = {name: bool(permissions.get(name, False)) for name in PERMISSIONS}
    old = chat.member(user.id)
    if all(rights.values()):
        new = Member("member") if old.present else Member("left")
    else:
        until = params.integer("until_date", 0) or 0
        new = Member("restricted", rights=rights, until_date=until, is_member=old.present)
    state.change_member(chat, user.id, new, state.bot.id)
    return True


@method("promoteChatMember")
def promote_chat_member(state: State, params: Params) -> bool:
    chat, user = _administered(state, params, "can_promote_members", NOT_ENOUGH_RIGHTS)
    old = chat.member(user.id)
    if old.status == "creator":
        raise bad_request("can't demote chat creator")
    if old.status == "administrator" and not old.promoted_by_bot:
        raise bad_request("user is an administrator of the chat")
    if not old.present:
        raise bad_request("USER_NOT_PARTICIPANT")
    rights = {right: params.boolean(right) for right in ADMIN_RIGHTS}
    bot_rights = chat.member(state.bot.id).rights
    if any(granted and not bot_rights.get(right) for right, granted in rights.items()):
        raise bad_request("RIGHT_FORBIDDEN")
    if any(rights.values()):
        # Every administrator right implies managing the chat.
        rights["can_manage_chat"] = True
        title = old.custom_title if old.status == "administrator" else None
        new = Member("administrator", rights=rights, promoted_by_bot=True, custom_title=title)
    else:
        new = Member("member")
    if new != old:
        state.change_member(chat, user.id, new, state.bot.id)
    return True


@method("setChatAdministratorCustomTitle")
def set_chat_administrator_custom_title(state: State, params: Params) -> bool:
    chat, user = _administered_supergroup(state, params, "can_promote_members", NOT_ENOUGH_RIGHTS)
    standing = chat.member(user.id)
    if standing.status != "administrator":
        raise bad_request("user is not an administrator")
    if not standing.promoted_by_bot:
        raise bad_request("not enough rights to change custom title of the user")
    title = (params.text("custom_title") or "").strip()
    if len(title) > MAX_CUSTOM_TITLE:
        raise bad_request("ADMIN_RANK_INVALID")
    standing.custom_title = title or None
    return True


@method("leaveChat")
def leave_chat(state: State, params: Params) -> bool:
    chat = member_chat(state, params)
    if chat.type == "private":
        raise bad_request("chat member status can't be changed in private chats")
    state.change_member(chat, state.bot.id, Member("left"), state.bot.id)
    return True


# --- invite links and join requests -------------------------------------------------------


@method("createChatInviteLink")
def create_chat_invite_link(state: State, params: Params) -> JSON:
    chat = _invite_chat(state, params)
    link = InviteLink(
        url=_new_link_url(),
        chat_id=chat.id,
        creator_id=state.bot.id,
        creates_join_request=False,
        is_primary=False,
    )
    _configure_link(link, params)
    chat.invite_links[link.url] = link
    return state.invite_link_json(link)


@method("editChatInviteLink")
def edit_chat_invite_link(state: State, params: Params) -> JSON:
    chat = _invite_chat(state, params)
    link = chat.invite_links.get(params.text("invite_link") or "")
    if link is None or link.is_revoked or link.is_primary or link.creator_id != state.bot.id:
        raise bad_request("INVITE_HASH_EXPIRED")
    _configure_link(link, params)
    return state.invite_link_json(link)


@method("revokeChatInviteLink")
def revoke_chat_invite_link(state: State, params: Params) -> JSON:
    chat = _invite_chat(state, params)
    link = chat.invite_links.get(params.text("invite_link") or "")
    if link is None:
        raise bad_request("INVITE_HASH_EXPIRED")
    link.is_revoked = True
    if link.is_primary:
        # Revoking the primary link makes Telegram issue a new one.
        _new_primary_link(state, chat)
    return state.invite_link_json(link)


@method("exportChatInviteLink")
def export_chat_invite_link(state: State, params: Params) -> str:
    chat = _invite_chat(state, params)
    return _new_primary_link(state, chat).url


@method("approveChatJoinRequest")
def approve_chat_join_request(state: State, params: Params) -> bool:
    chat, user = _administered(state, params, "can_invite_users", NOT_ENOUGH_RIGHTS)
    if chat.member(user.id).present:
        raise bad_request("USER_ALREADY_PARTICIPANT")
    request = chat.join_requests.pop(user.id, None)
    if request is None:
        raise bad_request("HIDE_REQUESTER_MISSING")
    link = chat.invite_links.get(request.invite_link or "")
    if link is not None:
        link.joined += 1
    state.change_member(
        chat, user.id, Member("member"), state.bot.id, invite_link=link, via_join_request=True
    )
    state.post_service(chat, user.id, {"new_chat_members": [user.to_api()]})
    return True


@method("declineChatJoinRequest")
def decline_chat_join_request(state: State, params: Params) -> bool:
    chat, user = _administered(state, params, "can_invite_users", NOT_ENOUGH_RIGHTS)
    if chat.join_requests.pop(user.id, None) is None:
        raise bad_request("HIDE_REQUESTER_MISSING")
    state.changed.notify_all()
    return True


# --- helpers ------------------------------------------------------------------------------


def _administered(state: State, params: Params, right: str, reason: str) -> tuple[Chat, User]:
    chat = member_chat(state, params)
    if chat.type == "private":
        raise bad_request("method is available for supergroup and channel chats only")
    require_right(state, chat, right, reason)
    return chat, target_user(state, params)


def _administered_supergroup(
    state: State, params: Params, right: str, reason: str
) -> tuple[Chat, User]:
    """Like _administered, for the methods Telegram offers in supergroups only."""
    chat = member_chat(state, params)
    require_supergroup(chat)
    require_right(state, chat, right, reason)
    return chat, target_user(state, params)


def _require_manageable(state: State, chat: Chat, user: User) -> None:
    standing = chat.member(user.id)
    if user.id == state.bot.id:
        raise bad_request("can't restrict self")
    if standing.status == "creator":
        raise bad_request("can't remove chat owner")
    if standing.status == "administrator" and not standing.promoted_by_bot:
        raise bad_request("user is an administrator of the chat")


def _invite_chat(state: State, params: Params) -> Chat:
    chat = member_chat(state, params)
    if chat.type == "private":
        raise bad_request("method is available for supergroup and channel chats only")
    require_right(state, chat, "can_invite_users", _INVITE_RIGHTS)
    return chat


def _configure_link(link: InviteLink, params: Params) -> None:
    """Set a link's options; like Telegram, an edit resets the options it does not repeat."""
    name = params.text("name")
    member_limit = params.integer("member_limit")
    creates_join_request = params.boolean("creates_join_request")
    if name is not None and len(name) > MAX_LINK_NAME:
        raise bad_request("invite link name is too long")
    if member_limit is not None and not 1 <= member_limit <= MAX_MEMBER_LIMIT:
        raise bad_request("member limit must be between 1 and 99999")
    if creates_join_request and member_limit is not None:
        raise bad_request(
            "member_limit can't be specified for links requiring administrator approval"
        )
    link.name = name or None
    link.expire_date = params.integer("expire_date")
    link.member_limit = member_limit
    link.creates_join_request = creates_join_request


def _new_link_url() -> str:
    return "https://t.me/+" + secrets.token_urlsafe(12)


def _primary_link(chat: Chat) -> InviteLink | None:
    return next((k for k in chat.invite_links.values() if k.is_primary and not k.is_revoked), None)


def _new_primary_link(state: State, chat: Chat) -> InviteLink:
    previous = _primary_link(chat)
    if previous is not None:
        previous.is_revoked = True
    link = InviteLink(
        url=_new_link_url(),
        chat_id=chat.id,
        creator_id=state.bot.id,
        creates_join_request=False,
        is_primary=True,
    )
    chat.invite_links[link.url] = link
    return link
