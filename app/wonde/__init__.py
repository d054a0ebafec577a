"""Reading schools from Wonde: the API client, its models, and a local sandbox that speaks the same API."""
