"""The pure core of the sync: no session, no client, no clock."""
