"""JSON sent with curl's default Content-Type (a form) is told what to send (issue 18, item 11).

``curl -d '{"name": "Le Guin"}' URL`` labels its body ``application/x-www-form-urlencoded``;
read as a form, the whole document would be one unknown field.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tests.helpers import count, problem

FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    "raw",
    [
        '{"name": "Le Guin", "country": "US"}',
        '  {"name": "a=b&c"}',  # '=' and '&' would split it into odd form fields
        '[{"name": "One"}, {"name": "Two"}]',
    ],
)
def test_json_sent_as_a_form_is_415_saying_send_json(
    client: FlaskClient, engine: sa.Engine, raw: str
) -> None:
    resp = client.post("/api/authors", data=raw, content_type=FORM)
    body = problem(resp, 415)
    assert "Content-Type: application/json" in body["detail"]
    assert count(engine, "authors") == 0


def test_json_sent_as_a_form_to_an_update_is_415(client: FlaskClient) -> None:
    made = client.post("/api/authors", json={"name": "Le Guin"})
    resp = client.patch(made.headers["Location"], data='{"country": "US"}', content_type=FORM)
    assert "Content-Type: application/json" in problem(resp, 415)["detail"]
    assert client.get(made.headers["Location"]).get_json()["country"] is None


def test_forms_that_are_not_json_are_still_forms(client: FlaskClient) -> None:
    made = client.post("/api/authors", data="name=%7Bbraces%7D&country=NZ", content_type=FORM)
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json()["name"] == "{braces}"
    # Not a JSON document: an ordinary form mistake, named as such.
    odd = client.post("/api/authors", data="{name", content_type=FORM)
    assert odd.status_code == 422, odd.get_data(as_text=True)
