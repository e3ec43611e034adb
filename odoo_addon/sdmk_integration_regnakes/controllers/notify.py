"""The receiver of the server's batch notifications (use case step 5, CONTRACT §3): a batch started, a
batch finished.

``POST /sdmk_regnakes/notify`` with ``X-RegNakes-Signature: t=<unix>,v1=<HMAC-SHA256("<t>.<body>")>``
keyed with the notification secret (the server's ``ODOO_NOTIFY_SECRET``, never a token key). Anything
unsigned, wrongly signed, more than five minutes away, or replayed (a signature already accepted, by
any Odoo worker) gets 401 and changes nothing; a good one updates the mirrored batch, refreshes open
dashboards and, for a failed batch, gives every Admin Integrasi user a to-do.
"""

import json
import logging

from odoo import SUPERUSER_ID, http
from odoo.http import request

from ..regnakes_sync_client import SIGNATURE_HEADER, verify_notification

_logger = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
# A batch's start (wherever it was started) and its end (however it ended, a crash included).
EVENTS = ("regnakes.batch_started", "regnakes.batch_finished")


def _answer(status, **body):
    return request.make_json_response(body, status=status)


class RegnakesNotifyController(http.Controller):
    @http.route(
        "/sdmk_regnakes/notify",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def batch_event(self):
        raw = request.httprequest.get_data(cache=False)
        if len(raw) > MAX_BODY:
            return _answer(413, error="body too large")
        secret = request.env["sdmk.regnakes.service"].sudo()._notify_secret()
        signature = request.httprequest.headers.get(SIGNATURE_HEADER)
        if not verify_notification(secret, signature, raw):
            _logger.warning(
                "RegNakes notification refused: missing, wrong or stale signature (request %s)",
                request.httprequest.headers.get("X-Request-ID"),
            )
            return _answer(401, error="invalid signature")
        try:
            event = json.loads(raw)
            batch = event["batch"]
            valid = event.get("event") in EVENTS and batch.get("id")
        except (ValueError, KeyError, TypeError, AttributeError):
            valid = False
        if not valid:
            return _answer(400, error="not a regnakes.batch_started or regnakes.batch_finished event")
        seen = request.env["sdmk.regnakes.notification.seen"].sudo()
        if not seen._accept_once(signature.strip()):
            _logger.warning(
                "RegNakes notification refused: replayed (request %s)",
                request.httprequest.headers.get("X-Request-ID"),
            )
            return _answer(401, error="replayed notification")
        # As OdooBot, so the batch's history says who changed it, not "Public user".
        batches = request.env["sdmk.regnakes.batch"].with_user(SUPERUSER_ID)
        record = batches._mirror([batch])
        _logger.info(
            "RegNakes batch %s %s (trace %s)",
            record.batch_uid,
            record.status,
            request.httprequest.headers.get("X-Request-ID"),
        )
        return _answer(200, ok=True)
