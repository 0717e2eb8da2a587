"""AWS spend by team and its coffee burn rate: model, service, Block Kit and the 💸🔥 action."""
