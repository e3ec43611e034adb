"""The addon's client library against the real server and simulator: tokens, roles, every failure a
person must be told about in plain words, request ids, paged issues, and the signed notification."""

import base64
import json
import re
import socket

import pytest
from conftest import NOTIFY_SECRET, RECORDS, SECRET, pretty, wait_until
from regnakes_sync_client import (
    RegnakesSyncError,
    generate_signing_key,
    make_token,
    sign_notification,
    verify_notification,
)

FINISHED = {"succeeded", "partial", "failed", "cancelled", "skipped"}


def claims_of(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def run_to_end(client, **start):
    batch = client.start(**start)["batch"]
    return wait_until(
        "batch finished",
        lambda: (b := client.batch(batch["id"]))["status"] in FINISHED and b,
    )


def test_token_names_the_caller_and_role():
    claims = claims_of(make_token("s", "siti", ["regnakes.viewer"], now=1_700_000_000))
    assert claims == {
        "aud": "sdmk-regnakes",
        "iat": 1_700_000_000,
        "nbf": 1_700_000_000,
        "exp": 1_700_000_300,
        "sub": "siti",
        "roles": ["regnakes.viewer"],
    }


def test_an_admin_runs_a_full_sync_and_reads_its_rejected_rows(client_for):
    admin = client_for()
    batch = run_to_end(admin, mode="full")
    assert batch["status"] in ("partial", "failed"), pretty(batch)
    assert batch["received"] == RECORDS
    assert batch["received"] == (
        batch["inserted"] + batch["updated"] + batch["unchanged"] + batch["rejected"]
    )
    assert batch["rejected"] > 10
    first = admin.issues(batch["id"], "errors", limit=10, offset=0)
    second = admin.issues(batch["id"], "errors", limit=10, offset=10)
    assert first["total"] == batch["rejected"]
    assert len(first["errors"]) == 10 and len(second["errors"]) == 10
    seen = {json.dumps(e, sort_keys=True) for e in first["errors"] + second["errors"]}
    assert len(seen) == 20, "pages do not overlap"
    for error in first["errors"]:
        assert error["reason"] and error["message"]
        # A NIK is never shown in clear: no 16-digit run in what a person reads.
        assert not re.search(r"\d{16}", error["message"]), error["message"]
    warnings = admin.issues(batch["id"], "warnings")
    assert warnings["total"] == len(warnings["warnings"]) or len(warnings["warnings"]) == 50
    status = admin.status()
    assert status["last"]["id"] == batch["id"] and status["running"] is None
    found = admin.search_workers(limit=5)
    assert found["total"] == batch["inserted"] and len(found["workers"]) == 5
    assert all("nik" not in w and "*" in w["nik_masked"] for w in found["workers"])


def test_a_viewer_reads_everything_and_changes_nothing(client_for):
    viewer = client_for(roles=("regnakes.viewer",), login="verifikator")
    before = viewer.batches()["total"]
    assert viewer.status()["enabled"] is True
    for attempt in (
        lambda: viewer.start(mode="full"),
        lambda: viewer.set_enabled(False, "no"),
        lambda: viewer.cancel("00000000-0000-0000-0000-000000000000"),
    ):
        with pytest.raises(RegnakesSyncError) as refused:
            attempt()
        assert refused.value.kind == "forbidden"
        assert refused.value.http_status == 403
    assert viewer.batches()["total"] == before
    assert viewer.status()["enabled"] is True


def test_a_verifier_decides_review_cases_and_starts_nothing(client_for):
    admin = client_for()
    first = run_to_end(admin, mode="full")
    verifier = client_for(roles=("regnakes.verifier",), login="verifikator")
    cases = verifier.review_cases()
    assert cases["total"] >= 1, pretty(first)
    case = verifier.review_case(cases["cases"][0]["id"])
    assert "*" in case["incoming"]["nik_masked"]
    decided = verifier.decide(case["id"], "keep_sdmk", "checked with Dukcapil")
    assert decided["case"]["decision"]["by"] == "verifikator"
    assert decided["batch"] is None
    for attempt in (
        lambda: verifier.start(mode="full"),
        lambda: verifier.retry(first["id"], reasons=["unknown_profession"]),
    ):
        with pytest.raises(RegnakesSyncError) as refused:
            attempt()
        assert refused.value.kind == "forbidden"


def test_a_batch_reports_what_it_wrote(client_for):
    admin = client_for()
    batch = run_to_end(admin, mode="full")
    report = admin.changes(batch["id"], limit=5)
    assert report["total"] == min(1000, batch["inserted"] + batch["updated"]), pretty(batch)
    for change in report["changes"]:
        assert change["outcome"] in ("inserted", "updated")
        assert change["fields"], pretty(change)


def test_a_dry_run_says_what_a_sync_would_do_and_writes_nothing(client_for):
    admin = client_for()
    before = admin.search_workers(limit=1)["total"]
    preview = run_to_end(admin, mode="full", dry_run=True)
    assert preview["dry_run"] is True, pretty(preview)
    assert admin.search_workers(limit=1)["total"] == before
    real = run_to_end(admin, mode="full")
    assert real["dry_run"] is False
    for count in ("received", "inserted", "updated", "unchanged", "rejected"):
        assert preview[count] == real[count], (pretty(preview), pretty(real))
    assert admin.status()["last"]["id"] == real["id"]


def test_workers_not_in_the_registry_are_listed_on_their_own(client_for):
    admin = client_for()
    run_to_end(admin, mode="full")
    missing = admin.search_workers(limit=5, missing=True)
    # The simulator removed nobody: the filter lists nobody, and every worker is in the registry.
    assert missing == {"total": 0, "workers": []}
    assert all(w["in_registry"] and w["missing_since"] is None for w in admin.search_workers(limit=5)["workers"])
    assert admin.status()["missing_workers"] == 0


def test_a_wrong_key_says_so(client_for):
    other_private, _ = generate_signing_key()
    for key in ("not-the-secret-not-the-secret-not-the", other_private):
        with pytest.raises(RegnakesSyncError) as failed:
            client_for(key=key).status()
        assert failed.value.kind == "unauthenticated"
        assert "bad signature" in failed.value.message
        assert failed.value.http_status == 401


def test_tokens_signed_with_eddsa_or_the_shared_secret_are_accepted(client_for):
    for key in (None, SECRET):
        client = client_for(key=key) if key else client_for()
        assert client.status()["enabled"] in (True, False)
    token = make_token(generate_signing_key()[0], "siti")
    assert json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["alg"] == "EdDSA"


def test_a_stopped_server_is_unreachable(client_for):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RegnakesSyncError) as failed:
        client_for(url=f"http://127.0.0.1:{port}").status()
    assert failed.value.kind == "unreachable"
    assert "unreachable" in failed.value.message


def test_a_server_that_never_answers_times_out(client_for):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(RegnakesSyncError) as failed:
            client_for(url=f"http://127.0.0.1:{port}", timeout=0.5).status()
    assert failed.value.kind == "unreachable"
    assert "0.5 s" in failed.value.message


def test_a_wrong_url_is_not_a_server(client_for, simulator):
    with pytest.raises(RegnakesSyncError) as failed:
        client_for(url=simulator).status()
    assert failed.value.kind == "not_a_server"
    assert failed.value.http_status == 404


def test_invalid_params_name_the_param(client_for):
    with pytest.raises(RegnakesSyncError) as failed:
        client_for().start(mode="sometimes")
    assert failed.value.kind == "invalid_params"
    assert "mode" in failed.value.message
    with pytest.raises(RegnakesSyncError) as failed:
        client_for().batch("00000000-0000-0000-0000-000000000000")
    assert failed.value.kind == "not_found"


def test_a_disabled_integration_refuses_to_start_and_says_why(client_for):
    admin = client_for()
    assert admin.set_enabled(False, "maintenance") is False
    try:
        assert admin.status()["enabled"] is False
        with pytest.raises(RegnakesSyncError) as failed:
            admin.start()
        assert failed.value.kind == "disabled"
    finally:
        assert admin.set_enabled(True) is True


def test_the_request_id_becomes_the_batch_trace_id(client_for):
    admin = client_for()
    started = admin.start(mode="incremental", request_id="odoo-trace-4242")
    assert started["batch"]["trace_id"] == "odoo-trace-4242"
    wait_until(
        "incremental finished",
        lambda: admin.batch(started["batch"]["id"])["status"] in FINISHED,
    )


def test_the_servers_notification_verifies(client_for, sink):
    admin = client_for()
    batch = run_to_end(admin, mode="incremental", professions=["bidan"])

    def delivered():
        # The batch's start is announced too; this is its end.
        for headers, body in sink.received:
            event = json.loads(body)
            if event["batch"]["id"] == batch["id"] and event["event"] == "regnakes.batch_finished":
                return headers, body
        return None

    headers, body = wait_until("notification delivered", delivered, seconds=30)
    assert headers["x-request-id"] == batch["trace_id"]
    signature = headers["x-regnakes-signature"]
    assert verify_notification(NOTIFY_SECRET, signature, body)
    assert not verify_notification(SECRET, signature, body), "never the token key"
    assert not verify_notification(NOTIFY_SECRET, signature, body + b" ")
    assert not verify_notification(NOTIFY_SECRET, "", body)
    assert json.loads(body)["event"] == "regnakes.batch_finished"
    started = [json.loads(b) for _, b in sink.received]
    assert any(
        e["event"] == "regnakes.batch_started" and e["batch"]["id"] == batch["id"] for e in started
    ), "the start is announced too"


@pytest.mark.parametrize(
    "age, valid",
    [(0, True), (299, True), (-299, True), (301, False), (-301, False)],
)
def test_a_signature_is_only_good_for_five_minutes(age, valid):
    body = b'{"event":"regnakes.batch_finished"}'
    header = sign_notification("k", body, now=1_000_000)
    assert verify_notification("k", header, body, now=1_000_000 + age) is valid


@pytest.mark.parametrize(
    "header",
    ["t=abc,v1=00", "v1=00", "t=1000000", "garbage", "t=1000000,v1=" + "0" * 64],
)
def test_malformed_signatures_are_refused(header):
    assert not verify_notification("k", header, b"{}", now=1_000_000)
