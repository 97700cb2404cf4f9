"""The channel-agnostic conversation engine: understand a message, fill slots, confirm, call the domain."""
