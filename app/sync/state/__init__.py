"""A school's state, loaded once (``repository.load_snapshot``), and its adapters to the matcher, the merge
planner and the reconcile."""
