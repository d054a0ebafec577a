"""Runs: the record of every read, merge, sync, undo, disconnect and ping of a school, and their recovery."""
