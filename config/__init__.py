"""Configuration of ITR processes (pydantic-settings, environment variables prefixed ITR_)."""

from config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
