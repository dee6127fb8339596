"""Geography lookups: land and distance to coast, zones and borders, anchorages found in AIS."""
