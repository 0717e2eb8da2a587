"""Block Kit and plain-text rendering of domain data."""
