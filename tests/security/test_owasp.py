"""The OWASP API Security Top 10 (2023), one section per item, each with attacks that succeed
if its protection is taken away. Deeper suites per item:

- API1 Broken Object Level Authorization: ``test_permissions.py``, ``test_write_scope.py``
- API2 Broken Authentication: ``test_tokens.py``, ``test_accounts.py``, ``test_rate_limits.py``
- API3 Broken Object Property Level Authorization: ``test_field_rules.py``,
  ``test_concealment.py``, ``test_tokens.py`` (write-only passwords), ``tests/features``
  (hidden and read-only fields)
- API4 Unrestricted Resource Consumption: ``test_rate_limits.py``, ``test_slow_clients.py``,
  ``test_feed_attacks.py``, ``tests/features/test_http.py`` (body size),
  ``tests/features/test_query.py`` (filter, page, include limits)
- API5 Broken Function Level Authorization: ``test_permissions.py``, ``test_serve_policy.py``,
  ``test_serve_defaults.py``
- API6 Unrestricted Access to Sensitive Business Flows: here (sign-in, refresh tokens)
- API7 Server Side Request Forgery: here (tablerest fetches no URL)
- API8 Security Misconfiguration: ``test_headers.py``, ``test_http_edges.py``, here (errors,
  defaults)
- API9 Improper Inventory Management: here (the OpenAPI document lists every route)
- API10 Unsafe Consumption of APIs: here (the session store, the database's own names)

``ISSUE_17`` below indexes the tests of the attack review filed as issue 17 under these
sections, item by item; a test checks that every test it names exists.

Fixture people: ann (1, admin), bob (2), cy (3); posts 1 (ann's), 2 and 3 (bob's).
"""

from __future__ import annotations

import ast
import contextlib
import re
import socket
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

import tablerest
from tablerest import Limits, RateLimits
from tablerest.server import create_app
from tests.security.conftest import AppFactory, login, tokens

SRC = Path(tablerest.__file__).parent

#: Issue 17 (an attack review of ``tablerest serve``): item -> (OWASP API Top 10 2023 section,
#: the tests that reproduce its attack, as ``file::test`` under tests/).
ISSUE_17: dict[str, tuple[str, tuple[str, ...]]] = {
    "1 ReDoS in the change feed": ("API4", (
        "security/test_feed_attacks.py::test_a_hostile_like_pattern_costs_linear_time_on_each_event",
        "security/test_feed_attacks.py::test_like_patterns_beyond_the_limits_are_a_400_naming_the_parameter",
        "e2e/test_feed_attacks.py::test_a_hostile_like_stream_does_not_freeze_the_worker",
    )),
    "2 writes ignore the read scope": ("API1", (
        "security/test_write_scope.py::test_a_write_to_a_row_the_caller_cannot_read_is_404",
        "security/test_write_scope.py::test_a_bulk_update_touching_a_row_the_caller_cannot_read_is_404_and_changes_nothing",
        "security/test_write_scope.py::test_a_batch_operation_on_a_row_the_caller_cannot_read_is_404_and_changes_nothing",
        "security/test_write_scope.py::test_an_upsert_onto_a_row_the_caller_cannot_read_is_409_and_changes_nothing",
        "security/test_write_scope.py::test_serve_with_a_policy_file_keeps_every_write_path_in_the_read_scope",
        "security/test_write_scope.py::test_two_alternatives_joined_with_and_grant_the_rows_both_cover",
    )),
    "3 tokens outlive the account": ("API2", (
        "security/test_accounts.py::test_deleting_a_user_ends_their_access_and_refresh_tokens",
        "security/test_accounts.py::test_a_user_replaced_under_the_same_id_by_raw_sql_refuses_the_old_tokens",
        "security/test_accounts.py::test_sqlite_reuses_a_deleted_users_id_for_the_next_sign_up_without_inheriting_tokens",
    )),
    "4 no rate limits in serve, unbounded hashing": ("API2", (
        "security/test_serve_defaults.py::test_sign_in_is_limited_by_default",
        "security/test_serve_defaults.py::test_sign_in_is_limited_per_login_from_many_addresses",
        "security/test_serve_defaults.py::test_sign_up_is_limited_per_address_by_default",
        "security/test_serve_defaults.py::test_every_way_of_creating_users_counts_as_sign_up",
        "security/test_accounts.py::test_concurrent_sign_ins_hash_at_most_n_at_once",
        "security/test_accounts.py::test_sign_ins_over_the_wait_get_429_with_retry_after_never_503",
    )),
    "5 stream and socket exhaustion": ("API4", (
        "security/test_feed_attacks.py::test_one_address_gets_its_cap_of_streams_then_a_429",
        "security/test_feed_attacks.py::test_a_stream_whose_body_is_never_read_is_uncounted_when_closed",
        "security/test_slow_clients.py::test_half_open_connections_and_a_slowloris_do_not_starve_requests",
        "security/test_slow_clients.py::test_an_idle_kept_alive_connection_is_closed_after_the_header_timeout",
    )),
    "6 CSV formula injection": ("API8", (
        "security/test_serve_defaults.py::test_csv_export_neutralises_formulas",
        "security/test_serve_defaults.py::test_every_csv_export_is_guarded",
    )),
    "7 a hidden foreign key leaks through its relation": ("API3", (
        "security/test_concealment.py::test_concealed_relation_routes_are_404",
        "security/test_concealment.py::test_paths_through_a_concealed_relation_are_unknown",
        "security/test_concealment.py::test_jsonapi_documents_leave_the_concealed_relationship_out",
    )),
    "8 If-Match compared with hidden fields": ("API3", (
        "security/test_write_scope.py::test_if_match_with_the_etag_the_caller_was_given_succeeds_despite_hidden_fields",
        "security/test_write_scope.py::test_a_guessed_etag_over_a_hidden_value_is_412_like_any_stale_tag",
    )),
    "9 DNS rebinding and cross-site writes": ("API8", (
        "security/test_http_edges.py::test_a_cross_site_form_post_is_refused_without_auth",
        "security/test_http_edges.py::test_every_write_route_refuses_cross_site_pages",
        "security/test_http_edges.py::test_allowed_hosts_refuse_other_host_headers",
        "security/test_http_edges.py::test_serve_on_loopback_refuses_rebinding_and_cross_site_forms",
    )),
    "10 a username equal to a victim's email": ("API2", (
        "security/test_accounts.py::test_a_username_equal_to_a_victims_email_does_not_lock_the_victim_out",
        "security/test_accounts.py::test_a_username_taken_before_the_victim_signs_up_with_that_email",
    )),
    "11 the auth table under [default]": ("API5", (
        "security/test_serve_defaults.py::test_a_policy_without_a_users_section_gives_users_the_safe_rules",
        "security/test_serve_defaults.py::test_a_users_section_without_actions_does_not_fall_back_to_default",
        "security/test_serve_defaults.py::test_the_roles_column_is_read_only_for_non_admins_when_the_policy_is_silent",
    )),
    "12 password hashes served by database-first": ("API3", (
        "security/test_serve_defaults.py::test_secret_columns_are_not_served_anywhere",
        "security/test_serve_defaults.py::test_hide_and_show_options",
    )),
    "13 sign-outs lost on a restart": ("API2", (
        "security/test_accounts.py::test_a_sign_out_survives_a_restart_and_refresh_works_after_one",
        "security/test_accounts.py::test_a_sign_out_survives_a_restart_of_tablerest_serve",
    )),
    "14 a password change keeps other sessions": ("API2", (
        "security/test_accounts.py::test_a_password_change_ends_every_other_session_of_the_user",
        "security/test_accounts.py::test_a_password_changed_outside_the_api_ends_every_session",
    )),
    "15 references to unreadable rows": ("API1", (
        "security/test_write_scope.py::test_a_create_referring_to_an_unreadable_row_is_the_409_of_a_missing_one",
        "security/test_write_scope.py::test_an_update_bulk_update_or_batch_referring_to_an_unreadable_row_is_a_missing_one",
        "security/test_write_scope.py::test_a_row_leaving_the_callers_reach_during_the_write_is_checked_in_its_transaction",
    )),
    "16 hidden field names confirmed": ("API3", (
        "security/test_concealment.py::test_index_names_only_the_fields_the_caller_may_see",
        "security/test_concealment.py::test_openapi_document_is_the_callers_own",
        "security/test_concealment.py::test_hidden_field_names_answer_as_missing_ones",
        "security/test_concealment.py::test_on_conflict_cannot_name_a_hidden_key",
    )),
    "17 the change feed tells of hidden changes": ("API3", (
        "security/test_feed_attacks.py::test_a_write_that_changes_nothing_visible_sends_no_event",
        "security/test_feed_attacks.py::test_a_change_of_a_field_hidden_from_a_caller_is_sent_only_to_those_who_see_it",
        "security/test_feed_attacks.py::test_replayed_history_shows_each_caller_only_rows_they_could_read",
    )),
    "18 unbounded include fan-out": ("API4", (
        "security/test_concealment.py::test_include_fan_out_over_the_limit_is_a_400",
        "security/test_concealment.py::test_max_included_counts_every_relation_and_depth",
    )),
    "19 the demo's sign-up sets is_admin": ("API3", (
        "security/test_serve_defaults.py::test_demo_sign_up_cannot_set_is_admin",
        "security/test_serve_defaults.py::test_demo_users_cannot_flip_their_own_is_admin",
    )),
    "20 no password policy": ("API2", (
        "security/test_accounts.py::test_passwords_shorter_than_the_minimum_are_422",
        "security/test_accounts.py::test_a_huge_password_is_refused_before_any_hashing",
    )),
    "21 several URLs per row": ("API8", (
        "security/test_http_edges.py::test_a_key_spelt_other_than_canonically_reaches_no_row",
        "security/test_http_edges.py::test_integer_filter_values_are_400_unless_canonical",
    )),
    "22 nested pointers, unreachable keys, upsert 403": ("API3", (
        "security/test_write_scope.py::test_nested_write_errors_point_once_at_the_nested_row",
        "security/test_write_scope.py::test_a_text_key_no_item_url_can_name_is_refused_on_every_create_path",
        "security/test_write_scope.py::test_an_upsert_onto_a_row_the_caller_may_not_change_is_409_whether_they_see_it_or_not",
    )),
    "also: Vary and Cache-Control private": ("API8", (
        "security/test_http_edges.py::test_an_api_with_auth_varies_on_authorization_and_keeps_signed_in_answers_private",
    )),
    "also: CSP and frame-ancestors on the pages": ("API8", (
        "security/test_http_edges.py::test_the_pages_send_a_csp_with_frame_ancestors_none",
        "security/test_http_edges.py::test_the_pages_work_under_their_csp_in_a_browser_and_refuse_framing",
    )),
    "also: derived keys for cursors and tokens": ("API2", (
        "security/test_accounts.py::test_tokens_are_signed_with_a_key_derived_for_them",
        "security/test_accounts.py::test_page_cursors_use_a_key_of_their_own",
    )),
    "also: gunicorn's shared control socket": ("API8", (
        "security/test_slow_clients.py::test_gunicorn_serve_processes_make_no_shared_control_socket",
    )),
}  # fmt: skip


def test_the_issue_17_index_names_every_item_and_only_real_tests() -> None:
    tests_dir = Path(__file__).parent.parent
    items = {int(k.split()[0]) for k in ISSUE_17 if k[0].isdigit()}
    assert items == set(range(1, 23))
    sections = {f"API{n}" for n in range(1, 11)}
    for item, (section, names) in ISSUE_17.items():
        assert section in sections, item
        assert names, item
        for name in names:
            path, _, test = name.partition("::")
            text = (tests_dir / path).read_text(encoding="utf-8")
            assert re.search(rf"^def {test}\(", text, re.M), f"{item}: {name} is not a test"


# -- API1: Broken Object Level Authorization ----------------------------------------------


def test_api1_another_users_object_cannot_be_read_changed_or_deleted(client: FlaskClient) -> None:
    bob = login(client, "bob")

    assert client.get("/api/posts/1", headers=bob).status_code == 404
    assert client.patch("/api/posts/1", json={"title": "x"}, headers=bob).status_code == 404
    assert client.delete("/api/posts/1", headers=bob).status_code == 404
    assert [p["id"] for p in client.get("/api/posts", headers=bob).get_json()["data"]] == [2, 3]
    # Nor reached sideways: through a relation, an include or a filter.
    assert client.get("/api/posts/1/comments", headers=bob).status_code == 404
    comment = client.get("/api/comments/1?include=post", headers=bob).get_json()
    assert comment["post"] is None
    probe = client.get(
        "/api/comments", query_string={"filter[post.title]": "ann's plans"}, headers=bob
    )
    assert probe.get_json()["data"] == []


# -- API2: Broken Authentication ----------------------------------------------------------


def test_api2_forged_and_replayed_credentials_are_refused(client: FlaskClient) -> None:
    pair = tokens(client, "bob")
    header, payload, _signature = pair["access_token"].split(".")
    unsigned = f"{header}.{payload}."

    assert (
        client.get("/api/auth/me", headers={"Authorization": f"Bearer {unsigned}"}).status_code
        == 401
    )
    assert (
        client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code
        == 200
    )
    replay = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert replay.status_code == 401


def test_api2_password_guessing_is_rate_limited(make_app: AppFactory) -> None:
    client = make_app(api={"rate_limits": RateLimits(sign_in="3/minute")}).test_client()

    answers = [
        client.post("/api/auth/token", json={"username": "bob", "password": f"guess{i}"})
        for i in range(5)
    ]

    assert [r.status_code for r in answers] == [401, 401, 401, 429, 429]
    assert "Retry-After" in answers[-1].headers


# -- API3: Broken Object Property Level Authorization -------------------------------------


def test_api3_no_mass_assignment_and_no_excessive_exposure(make_app: AppFactory) -> None:
    from tablerest import role

    client = make_app(
        users_options={
            "hidden_unless": {"email": role("admin")},
            "read_only_unless": {"roles": role("admin")},
        }
    ).test_client()
    bob = login(client, "bob")

    escalate = client.patch("/api/users/2", json={"roles": "admin"}, headers=bob)
    own = client.get("/api/users/2", headers=bob).get_json()

    assert escalate.status_code == 422
    assert set(own) == {"id", "username", "roles"}  # no password, no email
    assert client.get("/api/users/2?fields=email", headers=bob).status_code == 400
    assert client.get("/api/users?sort=password", headers=login(client, "ann")).status_code == 400


# -- API4: Unrestricted Resource Consumption ----------------------------------------------


@pytest.mark.parametrize("depth", [33, 10_000])
def test_api4_deeply_nested_json_is_refused_before_parsing(client: FlaskClient, depth: int) -> None:
    body = "[" * depth + "]" * depth

    resp = client.post(
        "/api/comments", data=body, content_type="application/json", headers=login(client, "bob")
    )

    assert resp.status_code == 400
    assert "nested more than 32 levels" in resp.get_json()["detail"]


def test_api4_json_nesting_within_the_limit_is_read_as_usual(make_app: AppFactory) -> None:
    client = make_app(api={"limits": Limits(max_json_depth=3)}).test_client()
    bob = login(client, "bob")
    # Brackets inside strings are text, not nesting.
    body = '{"post_id": 2, "text": "[[[[{{{{ \\" ]]]] \\\\"}'

    made = client.post("/api/comments", data=body, content_type="application/json", headers=bob)
    deep = client.post(
        "/api/comments",
        data='{"post_id": 2, "text": "x", "extra": [[[1]]]}',
        content_type="application/json",
        headers=bob,
    )

    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json()["text"] == '[[[[{{{{ " ]]]] \\'
    assert deep.status_code == 400
    assert "3 levels" in deep.get_json()["detail"]


def test_api4_every_request_is_bounded(make_app: AppFactory) -> None:
    client = make_app(api={"max_body_size": 1000}).test_client()
    bob = login(client, "bob")

    big = client.post("/api/comments", json={"post_id": 2, "text": "x" * 2000}, headers=bob)
    page = client.get("/api/comments?page[size]=1000")
    # 21 filters (a repeated contains is one filter each), and 101 values in one (a repeated
    # ne is one nin of every value)
    filters = "&".join(f"filter[text][contains]={i}" for i in range(21))
    many = client.get(f"/api/comments?{filters}")
    values = "&".join(f"filter[text][ne]={i}" for i in range(101))
    many_values = client.get(f"/api/comments?{values}")
    deep = client.get(
        "/api/comments?include=post.comments.post.comments", headers=login(client, "ann")
    )

    statuses = [big, page, many, many_values, deep]
    assert [r.status_code for r in statuses] == [413, 400, 400, 400, 400]


# -- API5: Broken Function Level Authorization --------------------------------------------


def test_api5_admin_functions_need_the_admin_role(client: FlaskClient) -> None:
    bob, ann = login(client, "bob"), login(client, "ann")

    assert client.get("/api/users", headers=bob).status_code == 403
    assert client.delete("/api/users/3", headers=bob).status_code == 403
    assert client.get("/api/users").status_code == 401
    assert client.get("/api/users", headers=ann).status_code == 200


# -- API6: Unrestricted Access to Sensitive Business Flows --------------------------------


def test_api6_guessing_one_accounts_password_from_many_addresses_is_limited(
    make_app: AppFactory,
) -> None:
    client = make_app(api={"rate_limits": RateLimits(sign_in="3/minute")}).test_client()

    answers = [
        client.post(
            "/api/auth/token",
            json={"username": "ann", "password": "guess"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{i}"},
        )
        for i in range(5)
    ]

    assert [r.status_code for r in answers][-1] == 429


def test_api6_a_stolen_refresh_token_ends_the_whole_session(client: FlaskClient) -> None:
    pair = tokens(client, "bob")
    access = {"Authorization": f"Bearer {pair['access_token']}"}
    thief = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert thief.status_code == 200

    # The owner comes back with the same refresh token: reuse revokes everything.
    owner = client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    stolen_access = {"Authorization": f"Bearer {thief.get_json()['access_token']}"}

    assert owner.status_code == 401
    assert client.get("/api/auth/me", headers=stolen_access).status_code == 401
    assert client.get("/api/auth/me", headers=access).status_code == 401


# -- API7: Server Side Request Forgery ----------------------------------------------------

#: Modules that would let tablerest reach out to a URL a client gives. Redis is reached only
#: at the operator's TABLEREST_REDIS_URL, through the redis and limits packages.
NETWORK_MODULES = {"urllib.request", "http.client", "requests", "httpx", "urllib3", "aiohttp",
                   "socket", "ftplib", "smtplib"}  # fmt: skip


def test_api7_tablerest_imports_no_network_client() -> None:
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            found += [f"{path.name}: {n}" for n in names if n in NETWORK_MODULES]
    assert found == []


def test_api7_urls_in_data_are_stored_never_fetched(client: FlaskClient) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    hits: list[Any] = []

    def watch() -> None:
        with contextlib.suppress(TimeoutError):
            hits.append(listener.accept())

    watcher = threading.Thread(target=watch)
    watcher.start()
    url = f"http://127.0.0.1:{port}/latest/meta-data"
    bob = login(client, "bob")
    made = client.post("/api/comments", json={"post_id": 2, "text": url}, headers=bob)
    client.get("/api/comments", query_string={"filter[text]": url})
    client.get(f"/api/comments/{made.get_json()['id']}")
    watcher.join()
    listener.close()

    assert made.status_code == 201
    assert hits == []


# -- API8: Security Misconfiguration ------------------------------------------------------


def test_api8_a_crash_answers_500_without_internals(make_app: AppFactory) -> None:
    app = make_app()
    app.config["TESTING"] = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    api = app.extensions["tablerest"]["/api"].api

    @api.resources["comments"].hook("before_create")
    def explode(ctx: Any) -> None:
        raise RuntimeError("SELECT secret FROM internals /srv/app/settings.py")

    client = app.test_client()
    resp = client.post(
        "/api/comments", json={"post_id": 2, "text": "x"}, headers=login(client, "bob")
    )

    text = resp.get_data(as_text=True)
    assert resp.status_code == 500
    assert resp.mimetype == "application/problem+json"
    assert "SELECT" not in text
    assert "Traceback" not in text
    assert "settings.py" not in text


def test_api8_safe_defaults(client: FlaskClient) -> None:
    resp = client.get("/api/comments", headers={"Origin": "https://evil.example"})

    assert "Access-Control-Allow-Origin" not in resp.headers  # CORS is opt-in
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert client.open("/api/comments", method="TRACE").status_code == 405


# -- API9: Improper Inventory Management --------------------------------------------------


def _shape(path: str) -> str:
    """A path with its parameters blanked: /api/posts/<key> and /api/posts/{id} match."""
    return re.sub(r"<[^>]*>|\{[^}]*\}", "{}", path)


def test_api9_the_openapi_document_lists_every_route_served(app: Flask) -> None:
    spec = app.test_client().get("/api/openapi.json").get_json()
    documented = {_shape(p if p.startswith("/api") else f"/api{p}") for p in spec["paths"]}
    served = {
        _shape(rule.rule) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api")
    }
    # The document itself and the docs page; relation routes are documented per relation.
    meta = {"/api/openapi.json", "/api/docs", "/api/docs/{}"}
    generic = {p for p in served if p.endswith("/{}/{}") or p.endswith("/relationships/{}")}

    assert served - generic - meta <= documented, sorted(served - generic - meta - documented)
    for route in generic:
        base = route.rsplit("{}", 1)[0]
        assert any(d.startswith(base) for d in documented), route


def test_api9_docs_can_be_taken_offline(make_app: AppFactory) -> None:
    client = make_app(api={"docs": False}).test_client()

    assert client.get("/api/openapi.json").status_code == 404
    assert client.get("/api/docs").status_code == 404


# -- API10: Unsafe Consumption of APIs ----------------------------------------------------


def test_api10_an_unreachable_session_store_is_a_503_never_a_pass(make_app: AppFactory) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]  # nothing listens there once closed
    client = make_app(auth={"redis_url": f"redis://127.0.0.1:{dead_port}/0"}).test_client()

    resp = client.post("/api/auth/token", json={"username": "bob", "password": "bob-pw"})

    assert resp.status_code == 503
    assert "Traceback" not in resp.get_data(as_text=True)


def test_api10_hostile_names_in_a_served_database_stay_names(tmp_path: Path) -> None:
    path = tmp_path / "hostile.db"
    evil = 'x"; DROP TABLE victims; --'
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE victims (id INTEGER PRIMARY KEY)")
        quoted = '"' + evil.replace('"', '""') + '"'
        conn.execute(f"CREATE TABLE things (id INTEGER PRIMARY KEY, {quoted} TEXT)")
        conn.execute("INSERT INTO things VALUES (1, 'a')")
    conn.close()
    client = create_app(str(path)).test_client()

    listed = client.get("/api/things", query_string={f"filter[{evil}]": "a", "sort": evil})
    made = client.post("/api/things", json={evil: "b"})

    assert listed.status_code == 200, listed.get_data(as_text=True)
    assert listed.get_json()["data"] == [{"id": 1, evil: "a"}]
    assert made.status_code == 201
    engine = sa.create_engine(f"sqlite:///{path}")
    assert "victims" in sa.inspect(engine).get_table_names()
    engine.dispose()
