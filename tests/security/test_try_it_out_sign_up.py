"""The docs page's Try it out on a sign-up (``POST`` to the users of ``Api(auth=...)``): its
example's password passes the password policy, and the sign-in's example signs that user in."""

from __future__ import annotations

import pytest

from tests.security.conftest import AppFactory


@pytest.mark.parametrize("shortest", [8, 24])
def test_the_sign_up_example_passes_the_password_policy(
    make_app: AppFactory, shortest: int
) -> None:
    client = make_app(auth={"min_password_length": shortest}).test_client()
    doc = client.get("/api/openapi.json").get_json()
    example = doc["paths"]["/api/users"]["post"]["requestBody"]["content"]["application/json"][
        "example"
    ]
    assert len(example["password"]) >= shortest
    resp = client.post("/api/users", json=example)  # anonymous: anyone may sign up
    assert resp.status_code == 201, resp.get_data(as_text=True)
    # The sign-in's example is the user the sign-up's example creates (as JSON, or a form).
    sign_in = doc["paths"]["/api/auth/token"]["post"]["requestBody"]["content"]
    credentials = sign_in["application/json"]["example"]
    assert credentials == {"username": example["username"], "password": example["password"]}
    assert all(entry["example"] == credentials for entry in sign_in.values())
    signed_in = client.post("/api/auth/token", json=credentials)
    assert signed_in.status_code == 200, signed_in.get_data(as_text=True)
    assert signed_in.get_json()["token_type"] == "Bearer"
