"""Async repositories over the read model; the caller owns the session and its transaction."""
