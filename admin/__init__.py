"""The staff side: agent inbox, analytics and the REST API (to come)."""
