"""/incident and /oncall."""
