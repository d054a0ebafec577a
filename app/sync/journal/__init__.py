"""The journal: every change a run applied or held, its vocabulary, and undo."""
