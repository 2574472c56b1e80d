"""Who is in which sector: onboarding with the charter, join requests, moving and
leaving, referents.

- `onboarding`, `membership`, `groups`, `referents`: the handlers (and every Telegram call);
  `groups` also holds the Telegram side of membership (approve, decline, mute, remove)
  that the other flows use.
- `rules`: the pure membership rule (`verdict`).
- `domain`: what the flows record, one transaction with its audit entry per change, and
  the cards that ask someone else to decide.
- `buttons` (typed callback data) and `keyboards` (built from them).
"""
