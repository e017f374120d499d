"""Account context of the lead policies: campaigns, service area, customers, block list."""
