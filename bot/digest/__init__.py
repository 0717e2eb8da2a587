"""Team digests: at each team's scheduled local times, one post of what matters from every domain, details in its
thread, once per slot whatever restarts or replicas do."""
