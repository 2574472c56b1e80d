"""Runtime plumbing: receiving (inbox, webhook, persistence), sending (outbox, pacing),
the process's life (lifecycle, application) and tolerant update parsing."""
