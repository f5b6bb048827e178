"""A minimal third-party edg plugin."""
