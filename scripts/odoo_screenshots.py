"""Clicks through the addon in a running Odoo 17 as an administrator would, and saves the screenshots
README shows (docs/screenshots/). Needs Playwright (`pip install playwright`) and Debian's `chromium`.

    python scripts/odoo_screenshots.py --odoo http://127.0.0.1:8069 --db regnakes_demo \
        --admin siti:siti-pass --viewer budi:budi-pass

The Odoo must have the addon installed and configured against a running server (`regnakes-sync serve`
holding the public half of the addon's signing key in RPC_JWT_PUBLIC_KEY, ODOO_NOTIFY_URL pointing at
Odoo's /sdmk_regnakes/notify and ODOO_NOTIFY_SECRET the addon's notification secret).
"""

import argparse
import json
import pathlib
import urllib.request

from playwright.sync_api import expect, sync_playwright

OUT = pathlib.Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def login(page, odoo, db, credentials):
    user, password = credentials.split(":", 1)
    page.goto(f"{odoo}/web/login?db={db}")
    page.fill("input[name=login]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector(".o_main_navbar")


def shot(page, name):
    page.wait_for_timeout(400)
    for close in page.locator(".o_notification_close").all():
        close.click()
    page.screenshot(path=str(OUT / f"{name}.png"))
    print("saved", name)


def open_dashboard(page, odoo):
    page.goto(f"{odoo}/web#action=sdmk_integration_regnakes.action_regnakes_dashboard")
    page.wait_for_selector(".o_regnakes_dashboard .o_regnakes_batches")


def slow_upstream(sim, latency_ms):
    """Slows the simulator's pages so the running batch can be seen on the dashboard."""
    if sim:
        body = json.dumps({"latency_ms": latency_ms}).encode()
        request = urllib.request.Request(
            f"{sim}/_sim/faults", data=body, method="PUT",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).read()


def as_admin(page, odoo, sim):
    open_dashboard(page, odoo)
    shot(page, "01-dashboard")
    slow_upstream(sim, 1500)
    page.click(".o_regnakes_sync_now")
    page.wait_for_selector(".modal input.o_radio_input[data-value='full']")
    page.click(".modal input.o_radio_input[data-value='full']")
    shot(page, "02-sync-now-wizard")
    page.click(".modal button[name='action_start']")
    page.wait_for_selector(".o_regnakes_running .fa-spin", timeout=10_000)
    shot(page, "03-running")
    slow_upstream(sim, 0)
    # Nobody presses anything: the dashboard must show the batch finished on its own.
    first_row = page.locator(".o_regnakes_batch_row").first
    expect(first_row).to_have_attribute("data-status", "partial", timeout=120_000)
    shot(page, "04-finished")
    first_row.click()
    page.wait_for_selector(".o_form_view button[name='action_view_errors']")
    shot(page, "05-batch")
    page.click("button[name='action_view_errors']")
    page.wait_for_selector(".o_regnakes_issue")
    shot(page, "06-rejected-rows")
    page.goto(f"{odoo}/web#action=sdmk_integration_regnakes.action_regnakes_workers")
    page.fill(".o_regnakes_worker_query", "Siti")
    page.click(".o_regnakes_workers button[type=submit]")
    page.wait_for_selector(".o_regnakes_worker")
    shot(page, "07-health-workers")
    page.goto(f"{odoo}/web#action=sdmk_integration_regnakes.action_regnakes_batch_graph_status")
    page.wait_for_selector(".o_graph_renderer canvas")
    shot(page, "08-batches-per-day")
    open_dashboard(page, odoo)
    page.click(".o_regnakes_toggle")
    page.wait_for_selector(".modal input#reason_0, .modal div[name='reason'] input")
    page.fill(".modal div[name='reason'] input", "Maintenance of the RegNakes link")
    shot(page, "09-disable")
    page.click(".modal button.btn-danger[name='action_apply']")
    page.wait_for_selector(".o_regnakes_disabled")
    shot(page, "10-disabled")
    page.click(".o_regnakes_toggle")
    page.click(".modal button.btn-primary[name='action_apply']")
    page.wait_for_selector(".o_regnakes_enabled")
    # Rejected rows retried: the batch's Retry, by reason.
    page.goto(f"{odoo}/web#action=sdmk_integration_regnakes.action_regnakes_batch")
    page.locator(".o_data_row").first.click()
    page.click("button[name='action_retry']")
    page.wait_for_selector(".modal div[name='reason'] select")
    page.select_option(".modal div[name='reason'] select", '"unknown_profession"')
    shot(page, "17-retry")
    page.click(".modal button[name='action_retry']")
    page.wait_for_selector(".o_notification")
    if sim:
        # Two records whose NIK the registry changed under a stored STR: cases for the Verifikator.
        advance = json.dumps({"nik_conflicts": 2, "stamp_lag_ms": 50}).encode()
        request = urllib.request.Request(
            f"{sim}/_sim/advance", data=advance, method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).read()
        open_dashboard(page, odoo)
        page.click(".o_regnakes_sync_now")
        page.click(".modal input.o_radio_input[data-value='full']")
        page.click(".modal button[name='action_start']")
        expect(page.locator(".o_regnakes_open_cases")).to_be_visible(timeout=120_000)
        shot(page, "18-dashboard-open-cases")


def as_viewer(page, odoo, _sim):
    open_dashboard(page, odoo)
    shot(page, "11-verifikator-dashboard")
    assert page.locator(".o_regnakes_sync_now").count() == 0, "a Verifikator sees no Sync now"
    # The desk: the cases the admin's scenario opened (two identity conflicts), one compared, one decided.
    page.goto(f"{odoo}/web#action=sdmk_integration_regnakes.action_regnakes_review")
    page.wait_for_selector(".o_regnakes_case_row")
    page.locator(".o_regnakes_case_row").first.click()
    page.wait_for_selector(".o_regnakes_case .o_regnakes_difference")
    page.fill(".o_regnakes_note", "NIK corrected by Dukcapil")
    shot(page, "14-review-case")
    page.click(".o_regnakes_accept")
    page.wait_for_selector(".modal .modal-footer .btn-primary")
    shot(page, "15-review-confirm")
    page.click(".modal .modal-footer .btn-primary")
    page.wait_for_selector(".o_regnakes_review:not(:has(.o_regnakes_case))")
    page.click(".o_regnakes_review_resolved")
    page.wait_for_selector(".o_regnakes_case_row")
    shot(page, "16-review-resolved")


def settings(page, odoo, _sim):
    page.goto(f"{odoo}/web#action=sdmk_integration_regnakes.action_regnakes_settings")
    button = page.locator("button[name='action_regnakes_test_connection']")
    button.scroll_into_view_if_needed()
    button.click()
    page.wait_for_selector(".o_notification")
    box = page.locator(".o_setting_box", has_text="Token signing key")
    box.screenshot(path=str(OUT / "12-settings-keys.png"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--odoo", default="http://127.0.0.1:8069")
    parser.add_argument("--db", default="regnakes_demo")
    parser.add_argument("--admin", default="siti:siti-pass")
    parser.add_argument("--viewer", default="budi:budi-pass")
    parser.add_argument("--system", default="admin:admin")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--sim", help="the simulator's URL, to slow it while a batch is shown running")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium)
        for credentials, scenario in (
            (args.admin, as_admin),
            (args.viewer, as_viewer),
            (args.system, settings),
        ):
            context = browser.new_context(viewport={"width": 1400, "height": 860})
            page = context.new_page()
            login(page, args.odoo, args.db, credentials)
            scenario(page, args.odoo, args.sim)
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
