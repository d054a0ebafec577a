"""Retention: what the daily job deletes or redacts once children's data is no longer needed (``flow``)."""
