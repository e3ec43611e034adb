/** @odoo-module **/
// The dashboard left open while the server works on its own (issue 19): the test starts, stops or
// restarts the server from Python while these steps wait; nobody clicks anything.

import { registry } from "@web/core/registry";

const IDLE = ".o_regnakes_running:not([data-batch]):contains(No sync is running)";
// The handshake with the test: it acts on the server once the tour has seen the idle dashboard and
// asked for a reload (the dashboard's second answer).
const SEEN_IDLE = {
    content: "The dashboard shows nothing running; reload it to tell the test",
    trigger: ".o_regnakes_reload",
    extra_trigger: IDLE,
    run: "click",
};

registry.category("web_tour.tours").add("sdmk_regnakes_batch_started_elsewhere", {
    test: true,
    url: "/web#action=sdmk_integration_regnakes.action_regnakes_dashboard",
    steps: () => [
        SEEN_IDLE,
        {
            content: "A batch started by a direct RPC call shows as running, Cancel offered, Sync now off",
            trigger: ".o_regnakes_running[data-batch] .o_regnakes_cancel",
            extra_trigger: ".o_regnakes_sync_now[disabled]",
            isCheck: true,
            timeout: 20000,
        },
        {
            content: "It shows as finished when it ends",
            trigger:
                ".o_regnakes_last_status[data-status='succeeded'], " +
                ".o_regnakes_last_status[data-status='partial']",
            extra_trigger: IDLE,
            isCheck: true,
            timeout: 60000,
        },
    ],
});

registry.category("web_tour.tours").add("sdmk_regnakes_dashboard_heals", {
    test: true,
    url: "/web#action=sdmk_integration_regnakes.action_regnakes_dashboard",
    steps: () => [
        SEEN_IDLE,
        {
            content: "The server is stopped: the dashboard says so",
            trigger: ".o_regnakes_error",
            isCheck: true,
            timeout: 30000,
        },
        {
            content: "The server is back: the dashboard is normal again, with no click",
            trigger: `.o_regnakes_dashboard:not(:has(.o_regnakes_error)) ${IDLE}`,
            isCheck: true,
            timeout: 30000,
        },
    ],
});
