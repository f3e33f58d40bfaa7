"""Rendering: rows and errors -> response bytes. One module per representation."""
