"""Opora — an open-source IT service desk."""

__version__ = "0.1.0"
