"""Generated code, fenced off from the rest (ruff skips this folder). Regenerate, never edit by hand."""
