"""A sector's area and its streets, set in chat by the staff (issue 15).

- `flow`: /zone (a GeoJSON file, sent after picking the sector or with the command as its
  caption) and /rues (the sector's street list: shown with its count, replaced by a text or
  a .txt/.csv file, or cleared); `register(app)`.
- `domain`: the pure checks (size, JSON, polygon, validity and overlap with shapely, the
  street list folded) and what is recorded, each change with its audit entry.
- `buttons`: the sector pickers and the Clear button.

Enrolment by street (matching what a resident types against these lists) lives in
`handlers/enrolment/onboarding.py`, with `core/streets.py`.
"""

from handlers.areas.flow import register

__all__ = ["register"]
