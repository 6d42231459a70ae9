"""Attachment storage port and its adapters (a local directory by default)."""
