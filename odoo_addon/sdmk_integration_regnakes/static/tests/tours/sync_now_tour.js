/** @odoo-module **/
// Steps inside a dialog are looked up within the open dialog, so their triggers do not name `.modal`.
// An Admin Integrasi opens SDMK, presses Sync now, asks for a full sync, and sees it finish on the
// dashboard without pressing anything else.

import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

registry.category("web_tour.tours").add("sdmk_regnakes_sync_now", {
    test: true,
    url: "/web",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the SDMK app",
            trigger: ".o_app[data-menu-xmlid='sdmk_integration_regnakes.menu_sdmk_root']",
        },
        {
            content: "Press Sync now",
            trigger: ".o_regnakes_sync_now:not([disabled])",
        },
        {
            content: "Ask for a full sync",
            trigger: "input.o_radio_input[data-value='full']",
            run: "click",
        },
        {
            content: "Start it",
            trigger: "button[name='action_start']",
        },
        {
            // The newest row is the batch just started (the wizard records it before the dashboard
            // reloads): an earlier full batch's row must not end the tour while this one runs.
            content: "The full batch finishes on its own",
            trigger:
                ".o_regnakes_batch_row:first-child[data-mode='full'][data-status='succeeded'], " +
                ".o_regnakes_batch_row:first-child[data-mode='full'][data-status='partial']",
            isCheck: true,
        },
    ],
});
