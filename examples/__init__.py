"""Five classic "REST API with Flask + SQLAlchemy" tutorials, each re-done with tablerest.

Every example is a package with an ``app.py`` (``create_app(database_url) -> Flask``) and a
test module that replays the tutorial's requests through the Flask test client and reads the
database back with SQL. See ``README.md`` here for how to run each one.
"""
