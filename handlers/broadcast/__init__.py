"""Going down to the sectors: notices, alerts and polls, with their delivery reports."""
