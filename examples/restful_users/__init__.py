"""Users with a validated, unique email (the Flask-Restful + marshmallow tutorial)."""
