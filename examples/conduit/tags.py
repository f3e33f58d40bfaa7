"""``GET /api/tags``: the tags in use, as the spec lists them (``{"tags": ["dragons", ...]}``).

The one hand-written route: its answer is a list of bare values, not of rows, which no
resource gives. An article's tags are declared (``app.py``): a many-to-many relation through
``article_tags``, read and written as ``tagList``, the tags made on first use.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify

from .models import Tag, article_tags, db

__all__ = ["bp"]

bp = Blueprint("tags", __name__, url_prefix="/api")


@bp.get("/tags")
def tags() -> Response:
    used = sa.select(Tag.name).join(article_tags).distinct().order_by(Tag.name)
    return jsonify(tags=list(db.session.scalars(used)))
