"""Review queues, nudges to reviewers with their follow-ups, the review digest and morning reminders."""
