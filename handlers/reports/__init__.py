"""/signaler and what follows it: the wizard, triage by referents, the relay to the
liaison and its answers."""
