"""The sync: Wonde's view of a school kept in step with the app's bands and pupils (see README, "Where things are")."""
