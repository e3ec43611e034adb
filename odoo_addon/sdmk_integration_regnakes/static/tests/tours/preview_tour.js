/** @odoo-module **/
// Steps inside a dialog are looked up within the open dialog, so their triggers do not name `.modal`.
// An Admin Integrasi opens Sync now, asks for a full sync, previews it (a dry run: counts and the
// changes field by field), then starts it from the same dialog and sees it finish on the dashboard.

import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

registry.category("web_tour.tours").add("sdmk_regnakes_preview", {
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
            content: "Preview it",
            trigger: "button[name='action_preview']",
        },
        {
            content: "The preview counts what the sync would do",
            trigger: ".o_regnakes_preview_counts",
            isCheck: true,
        },
        {
            content: "and lists the changes, field by field",
            trigger: ".o_regnakes_preview_changes tbody tr",
            isCheck: true,
        },
        {
            content: "Start the sync from the preview",
            trigger: "button[name='action_start']",
        },
        {
            content: "The full batch (not the preview) finishes on its own",
            trigger:
                ".o_regnakes_batch_row[data-mode='full'][data-dry-run='no'][data-status='succeeded'] ~ " +
                ".o_regnakes_batch_row[data-dry-run='yes']",
            isCheck: true,
        },
    ],
});
