"""Pull requests waiting for review: model, service and Block Kit."""
