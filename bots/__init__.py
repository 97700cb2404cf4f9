"""Channel adapters: they turn channel updates into InboundMessages and render Replies back."""
