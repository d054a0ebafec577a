"""The daily sync ("copycat"): plan, hold what the safeguards hold, apply the rest; and the admin's
decisions on what was held."""
