"""In-process sandboxes that imitate real providers for tests and demos."""
