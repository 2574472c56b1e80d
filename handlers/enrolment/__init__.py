"""Who is in which sector: onboarding with the charter, join requests, moving and
leaving, referents."""
