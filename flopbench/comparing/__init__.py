"""Several models side by side, counted and measured the same way (`compare()` in compare.py)."""
