"""Prevention tips: the catalogue, the schedule and the commands."""
