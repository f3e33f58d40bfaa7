"""The books database of "Building a RESTful API with Flask", under ``/api/books``."""
