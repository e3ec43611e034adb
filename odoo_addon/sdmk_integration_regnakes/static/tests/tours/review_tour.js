/** @odoo-module **/
// A Verifikator opens Review, compares a case (differences marked), accepts the registry's record with
// a note, keeps SDMK's record on the other case, and finds both among the resolved cases.

import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

function decide(button, note) {
    return [
        {
            content: "Open the first open case",
            trigger: ".o_regnakes_case_row:first",
        },
        {
            content: "The two records side by side, the NIK marked as differing",
            trigger: ".o_regnakes_case .o_regnakes_difference:contains(NIK)",
            isCheck: true,
        },
        {
            content: "Write why",
            trigger: ".o_regnakes_note",
            run: `text ${note}`,
        },
        { content: "Decide", trigger: button },
        { content: "Confirm what will change", trigger: ".modal-footer .btn-primary" },
        {
            content: "The decision is recorded and the case leaves the list",
            trigger: ".o_regnakes_review:not(:has(.o_regnakes_case))",
            isCheck: true,
        },
    ];
}

registry.category("web_tour.tours").add("sdmk_regnakes_review_desk", {
    test: true,
    url: "/web",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the SDMK app",
            trigger: ".o_app[data-menu-xmlid='sdmk_integration_regnakes.menu_sdmk_root']",
        },
        {
            content: "The dashboard says cases wait; open Review",
            trigger: ".o_regnakes_open_cases a",
        },
        { content: "Two open cases", trigger: ".o_regnakes_cases tbody tr.o_regnakes_case_row:eq(1)", isCheck: true },
        ...decide(".o_regnakes_accept", "NIK corrected by Dukcapil"),
        ...decide(".o_regnakes_keep", "SDMK record is right"),
        {
            content: "No open case left",
            trigger: ".o_regnakes_cases td:contains(No case.)",
            isCheck: true,
        },
        { content: "Show the resolved cases", trigger: ".o_regnakes_review_resolved" },
        {
            content: "Both, with who decided",
            trigger: ".o_regnakes_cases tbody tr.o_regnakes_case_row:eq(1):contains(verifikator)",
            isCheck: true,
        },
    ],
});
