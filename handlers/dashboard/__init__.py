"""Figures for the staff: /stats, the annual report, the CSV export and the audit journal."""
