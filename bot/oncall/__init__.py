"""On-call: rotations, the roster (config and overrides), override times and requests, Block Kit."""
