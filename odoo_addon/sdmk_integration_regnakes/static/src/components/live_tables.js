/** @odoo-module **/
// Data read live from the server and never stored in Odoo: a batch's rejected rows or warnings, and the
// health-worker lookup. Both are paged on the server (limit/offset).

import { Component, onWillStart, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Pager } from "@web/core/pager/pager";
import { formatTime, strStatusLabel } from "./labels";

const PAGE = 50;

class LiveTable extends Component {
    static components = { Pager };
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.formatTime = formatTime;
        this.state = useState({ rows: [], total: 0, offset: 0, limit: PAGE, loaded: false });
        onWillStart(() => this.load());
    }

    async load() {
        const page = await this.fetch(this.state.limit, this.state.offset);
        this.state.total = page.total;
        this.state.rows = page.rows;
        this.state.loaded = true;
    }

    onPage({ offset, limit }) {
        this.state.offset = offset;
        this.state.limit = limit;
        return this.load();
    }
}

export class RegnakesIssues extends LiveTable {
    static template = "sdmk_integration_regnakes.Issues";

    setup() {
        super.setup();
        this.user = useService("user");
        this.action = useService("action");
        this.picked = useState(new Set());
        this.admin = useState({ yes: false });
        onWillStart(async () => {
            this.admin.yes = await this.user.hasGroup("sdmk_integration_regnakes.group_admin_integrasi");
        });
    }

    /** Rejected rows an Admin Integrasi may pick for a retry (a row needs its STR number). */
    get canRetry() {
        return this.admin.yes && this.params.kind === "errors";
    }

    toggle(number) {
        if (this.picked.has(number)) {
            this.picked.delete(number);
        } else {
            this.picked.add(number);
        }
    }

    async retryPicked() {
        const action = await this.orm.call("sdmk.regnakes.batch", "retry_rows", [
            this.params.batch_uid,
            [...this.picked],
        ]);
        this.picked.clear();
        return this.action.doAction(action);
    }

    get params() {
        return this.props.action.params || {};
    }

    async fetch(limit, offset) {
        const { batch_uid, kind } = this.params;
        const page = await this.orm.call("sdmk.regnakes.batch", "fetch_issues", [
            batch_uid,
            kind,
            limit,
            offset,
        ]);
        return { total: page.total, rows: page[kind] || [] };
    }

    raw(row) {
        return row.raw === undefined || row.raw === null || row.raw === false ? "" : JSON.stringify(row.raw);
    }
}

export class RegnakesWorkers extends LiveTable {
    static template = "sdmk_integration_regnakes.Workers";

    setup() {
        const params = this.props.action.params || {};
        this.search = useState({
            query: "",
            profession: "",
            professions: [],
            // The dashboard's "missing" link opens the list filtered.
            missing: Boolean(params.missing),
        });
        super.setup();
        onWillStart(async () => {
            this.search.professions = await this.orm.call(
                "sdmk.regnakes.service",
                "professions",
                []
            );
        });
    }

    async fetch(limit, offset) {
        const page = await this.orm.call("sdmk.regnakes.service", "search_workers", [
            this.search.query,
            this.search.profession,
            limit,
            offset,
            this.search.missing,
        ]);
        return { total: page.total, rows: page.workers };
    }

    submit(ev) {
        ev.preventDefault();
        this.state.offset = 0;
        return this.load();
    }

    toggleMissing(ev) {
        this.search.missing = ev.target.checked;
        this.state.offset = 0;
        return this.load();
    }

    /** The profession's name from the reference list (the server answers its code). */
    professionName(code) {
        const found = this.search.professions.find((p) => p.code === code);
        return found ? found.name : code;
    }

    strStatus(status) {
        return strStatusLabel(status);
    }
}

/** What a batch wrote, field by field: the server's `batch.changes`. */
export class RegnakesChanges extends LiveTable {
    static template = "sdmk_integration_regnakes.Changes";

    get params() {
        return this.props.action.params || {};
    }

    async fetch(limit, offset) {
        const page = await this.orm.call("sdmk.regnakes.batch", "fetch_changes", [
            this.params.batch_uid,
            limit,
            offset,
        ]);
        return { total: page.total, rows: page.changes };
    }
}

registry.category("actions").add("sdmk_regnakes.issues", RegnakesIssues);
registry.category("actions").add("sdmk_regnakes.changes", RegnakesChanges);
registry.category("actions").add("sdmk_regnakes.workers", RegnakesWorkers);
