"""Payment and top-up provider adapters behind the domain ports."""
