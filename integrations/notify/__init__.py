"""Notifier port and its adapters (structured log, signed outbound webhook)."""
