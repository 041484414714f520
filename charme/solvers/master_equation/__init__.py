"""Chemical master equation by finite state projection (FSP)."""
