"""The values the database keeps in its status, kind and purpose columns, as StrEnums.

Each is a `str`, so rows read back compare equal to them; code names a member, never a
literal. A new value is added here and, where the column has a CHECK, in a migration.
"""

from __future__ import annotations

from enum import StrEnum


class PersonStatus(StrEnum):
    NEW = "new"
    REFUSED = "refused"
    ENROLLED = "enrolled"
    LEFT = "left"
    EXCLUDED = "excluded"


class ReportStatus(StrEnum):
    """See storage/reports.py for the transitions allowed between them."""

    TRIAGE = "triage"
    RELAYED = "relayed"
    DISMISSED = "dismissed"
    RECEIVED = "received"
    PATROL = "patrol_informed"
    CLOSED = "closed"
    UNFOUNDED = "unfounded"
    REOPENED = "reopened"  # closed or unfounded, reopened by the liaison with a reason


class RequestStatus(StrEnum):
    """Join requests and referent applications (the latter are never withdrawn)."""

    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class BroadcastKind(StrEnum):
    NOTICE = "notice"
    ALERT = "alert"
    POLL = "poll"


class BroadcastStatus(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    CLOSED = "closed"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Purpose(StrEnum):
    """Why an outbox row exists: delivery and failure hooks are keyed by it."""

    # enrolment and roles
    INVITE = "invite"
    JOIN_CARD = "join_card"
    JOIN_RESULT = "join_result"
    REFERENT = "referent"
    REFERENT_CARD = "referent_card"
    REFERENT_ANNOUNCE = "referent_announce"
    BOT_REMOVED = "bot_removed"
    MODERATION = "moderation"
    MUTED = "muted"
    SECTOR_NOTICE = "sector_notice"
    # paperwork: the protocol's renewal, three months ahead
    PROTOCOL_RENEWAL = "protocol_renewal"
    # reports
    TRIAGE_CARD = "triage_card"
    RELAY_CARD = "relay_card"
    RELAY_PHOTO = "relay_photo"
    RELAY_LOCATION = "relay_location"
    RELAY_EDIT = "relay_edit"
    RELAY_FAILURE = "relay_failure"
    REPORTER_NOTICE = "reporter_notice"
    STATUS_NOTICE = "status_notice"
    PRECISION_REQUEST = "precision_request"
    CONTACT_REQUEST = "contact_request"
    CONTACT_ANSWER = "contact_answer"
    REOPEN_REQUEST = "reopen_request"  # the liaison is asked why (a force-reply)
    REPORT_DETAIL = "report_detail"  # a reporter's added detail, to whoever handles it
    # moderation in the sector groups (handlers/moderation)
    MOD_DELETE = "mod_delete"
    MOD_NOTICE = "mod_notice"
    MOD_CARD = "mod_card"
    MOD_EXCLUSION = "mod_exclusion"
    MOD_REPOST = "mod_repost"
    MOD_RESTRICT = "mod_restrict"
    MOD_GROUP_REPLY = "mod_group_reply"
    MOD_RIGHTS = "mod_rights"
    # going down to the sectors
    BROADCAST = "broadcast"
    BROADCAST_PROGRESS = "broadcast_progress"
    BROADCAST_PIN = "broadcast_pin"
    ALERT_RELAY = "alert_relay"
    POLL_STOP = "poll_stop"
    BROADCAST_FOLLOWUP = "broadcast_followup"  # a follow-up, as a reply to each copy
    BROADCAST_UNPIN = "broadcast_unpin"  # a closed notice's pinned copies
    TIP = "tip"
    # the start-up checklist, to the officials when it changed (core/runtime/check.py)
    CHECKLIST = "checklist"
    # the staff and the liaison chat changed in the bot (handlers/staff): the person told
    STAFF = "staff"


class ModerationKind(StrEnum):
    """What the bot did with a message in a sector group."""

    REMOVED = "removed"  # a text or caption that broke the charter
    MEDIA = "media"  # a resident's photo, video or document, held for the referents
    FORWARDED = "forwarded"  # a forward from outside, held for the referents


class ModerationStatus(StrEnum):
    PENDING = "pending"  # waiting for a referent (the text is kept until then)
    CONFIRMED = "confirmed"  # the removal stands
    RESTORED = "restored"  # a referent put the text back; its strike is cancelled
    PUBLISHED = "published"  # held media or forward reposted by the bot
    DECLINED = "declined"  # held media or forward not published
    EXPIRED = "expired"  # nobody decided within moderation.keep_hours


class LiaisonSource(StrEnum):
    """How the bot learnt whether a person belongs to the liaison group."""

    CHAT_MEMBER = "chat_member"  # a chat_member update of the group (join, leave, ban)
    ACTED = "acted"  # the person acted inside the group
    CHECKED = "checked"  # the bot's own getChatMember, made in the background


class StaffRole(StrEnum):
    """A commune-wide role held by a person (sector referents live in `referents`)."""

    OFFICIAL = "official"  # the elected official: approves referents, broadcasts, figures
    ADMIN = "admin"  # the mairie's technical administrator
