"""Whole documents made of the stages before: `report()` (reporting/report.py) counts, measures and
profiles a model, or reads results measured earlier, and renders the one self-contained HTML page
`flopbench report` writes."""
