"""A school's connection to Wonde: acting on Wonde's events, disconnecting, revoking access."""
