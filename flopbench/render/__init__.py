"""Rendering results as table, JSON, CSV or Markdown: one module per result kind. Rendering never computes."""
