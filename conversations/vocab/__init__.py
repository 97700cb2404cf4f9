"""Per-language vocabularies for the message parser, shipped as JSON package data."""
