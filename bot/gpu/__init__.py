"""GPU utilization, allocation and idle GPUs: model, service and Block Kit."""
