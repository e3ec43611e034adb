/** @odoo-module **/
// The Verifikator's desk: open review cases (records only a person may settle), one case with the stored
// worker and the registry's record side by side and their differences marked, Accept registry / Keep
// SDMK with a note (confirmed, saying what will change), and the resolved cases with who decided what.

import { Component, onWillStart, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { _t } from "@web/core/l10n/translation";
import { ConfirmationDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import { formatTime } from "./labels";

const PAGE = 50;
const FIELD_LABELS = {
    nik_masked: _t("NIK"),
    name: _t("Name"),
    sex: _t("Sex"),
    birth_place: _t("Place of birth"),
    birth_date: _t("Date of birth"),
    profession: _t("Profession"),
    str_status: _t("STR status"),
    str_valid_until: _t("STR valid until"),
    str_kind: _t("STR kind"),
    str_council: _t("Council"),
    address_line: _t("Address"),
    province_code: _t("Province"),
    regency_code: _t("Regency"),
};
const DECISION_LABELS = {
    accept_registry: _t("Accept registry"),
    keep_sdmk: _t("Keep SDMK"),
};
const KIND_LABELS = {
    identity_conflict: _t("Identity conflict"),
    duplicate_str: _t("Duplicate STR"),
};

export class RegnakesReview extends Component {
    static template = "sdmk_integration_regnakes.Review";
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.dialog = useService("dialog");
        this.notification = useService("notification");
        this.formatTime = formatTime;
        this.fieldLabels = FIELD_LABELS;
        this.kindLabels = KIND_LABELS;
        this.decisionLabels = DECISION_LABELS;
        this.state = useState({ status: "open", cases: [], total: 0, selected: null, note: "" });
        this.professions = [];
        onWillStart(async () => {
            this.professions = await this.orm.call("sdmk.regnakes.service", "professions", []);
            await this.load();
        });
    }

    /** The profession's name from the reference list (the server answers its code). */
    professionName(code) {
        const found = this.professions.find((p) => p.code === code);
        return found ? found.name : code;
    }

    async load() {
        const page = await this.orm.call("sdmk.regnakes.service", "review_cases", [
            this.state.status,
            PAGE,
            0,
        ]);
        this.state.cases = page.cases;
        this.state.total = page.total;
    }

    async show(status) {
        this.state.status = status;
        this.state.selected = null;
        await this.load();
    }

    async open(caseId) {
        this.state.selected = await this.orm.call("sdmk.regnakes.service", "review_case", [caseId]);
        this.state.note = "";
    }

    differs(field) {
        return (this.state.selected.differences || []).some((d) => d.field === field);
    }

    value(side, field) {
        const text = this.rawValue(side, field);
        return field === "profession" && text ? this.professionName(text) : text;
    }

    rawValue(side, field) {
        const c = this.state.selected;
        if (side === "stored") {
            const w = c.stored || {};
            return { nik_masked: w.nik_masked, name: w.name, birth_place: w.birth_place, profession: w.profession, str_status: w.str_status, str_valid_until: w.str_valid_until }[field] ?? this.difference(field, "stored");
        }
        return this.difference(field, "incoming") ?? this.incoming(field);
    }

    difference(field, side) {
        const d = (this.state.selected.differences || []).find((x) => x.field === field);
        return d ? d[side] : undefined;
    }

    incoming(field) {
        const r = this.state.selected.incoming || {};
        return {
            nik_masked: r.nik_masked,
            name: r.nama,
            sex: r.jenis_kelamin,
            birth_place: r.tempat_lahir,
            birth_date: r.tanggal_lahir,
            profession: r.jenis && r.jenis.kode,
            str_status: r.str && r.str.status,
            str_valid_until: r.str && r.str.berlaku_sampai,
        }[field];
    }

    decide(decision) {
        const c = this.state.selected;
        const body =
            decision === "accept_registry"
                ? _t(
                      "The worker holding STR %s takes the registry's record, identity included (NIK, name, birth data). The previous identity is kept in its history. Apply now?",
                      c.str_number
                  )
                : _t(
                      "SDMK keeps its record for STR %s. This content of the registry's record will not open a case again; a later change will. Keep SDMK?",
                      c.str_number
                  );
        this.dialog.add(ConfirmationDialog, {
            body,
            confirm: async () => {
                await this.orm.call("sdmk.regnakes.service", "decide_case", [
                    c.id,
                    decision,
                    this.state.note,
                ]);
                this.notification.add(_t("Decision recorded."), { type: "success" });
                this.state.selected = null;
                await this.load();
            },
            cancel: () => {},
        });
    }
}

registry.category("actions").add("sdmk_regnakes.review", RegnakesReview);
