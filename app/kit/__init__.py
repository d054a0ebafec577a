"""Domain-free plumbing: request ids, units of work, jobs, pagination, locks, crypto."""
