"""Anonymising accounts: leavers past the school's grace period, and children erased on request."""
