"""emoji-ops: ChatOps for DevOps and ML-platform teams on Slack."""

__version__ = "0.1.0"
