"""The server-rendered web workspace (customer portal first): Jinja2 pages over the same
services and Principal as the JSON API, with sign-in sessions, CSRF protection and
English / Simplified Chinese catalogues."""
