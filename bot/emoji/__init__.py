"""The emoji dialect: names and aliases, combos fired once per message, and the registry of what they mean."""
