"""The security fixture app for real server processes.

``gunicorn 'tests.security.served:create()'``, configured from the environment: ``TEST_DB_URL``,
``TEST_LIMIT_PREFIX`` and ``TABLEREST_REDIS_URL``.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask

from tablerest import Api, Auth
from tablerest.mount.ratelimit import RateLimits
from tests.security.conftest import FAST, PERMISSIONS, SECRET, Comment, Post, User


def create() -> Flask:
    engine = sa.create_engine(os.environ["TEST_DB_URL"])
    app = Flask("served")
    limits = RateLimits(
        anonymous="6/minute", user="100/minute", key_prefix=os.environ["TEST_LIMIT_PREFIX"]
    )
    api = Api(
        app,
        engine,
        auth=Auth("users", secret=SECRET, roles="roles", hasher=FAST),
        rate_limits=limits,
    )
    api.resource(User, permissions=PERMISSIONS["users"], read_only=["roles"])
    api.resource(Post, permissions=PERMISSIONS["posts"])
    api.resource(Comment, permissions=PERMISSIONS["comments"])
    return app
