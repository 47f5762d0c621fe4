"""Private helpers: argument checks and random-number plumbing."""
