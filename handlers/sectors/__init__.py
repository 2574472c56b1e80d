"""Live administration of the sectors by the staff (/secteurs): add, rename, retire, merge.

- `flow`: the /secteurs conversation (typing a name) and its buttons;
- `rehome`: a member of a retired sector picking another one from the bot's notice (the
  enrolment's own `SectorPick` buttons, pressed outside the enrolment conversation);
- `domain`: each change in one transaction with its audit entry and the notices to the
  people concerned (through the outbox);
- `buttons` (typed callback data) and `draft` (the sector being renamed).
"""
