"""Incidents: opened from emoji, commands or shortcuts; paged to the on-call DRI; escalated until acked."""
