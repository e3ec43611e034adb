/** @odoo-module **/
// The module's first screen: sync.status (enabled, running batch with live progress, last batch, last
// success, next run, watermark), the latest batches, and the admin's actions. It refreshes itself: from
// the bus when the server's notification arrives (a batch started or finished, wherever it was started),
// and on its own: every 2 s while a batch runs, every 5 s otherwise (so nothing is missed when a
// notification is lost), and after a failed call with a backoff of 1, 2, 4, 8, 10 s until it heals.

import { Component, onWillStart, onWillUnmount, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { _t } from "@web/core/l10n/translation";
import { ConfirmationDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import {
    formatPercent,
    formatSeconds,
    formatTime,
    modeLabel,
    statusClass,
    statusLabel,
    triggerLabel,
} from "./labels";

const POLL_MS = 2000;
const IDLE_POLL_MS = 5000;
const MAX_BACKOFF_MS = 10000;
const BUS_TYPE = "sdmk_regnakes/batch";

export class RegnakesDashboard extends Component {
    static template = "sdmk_integration_regnakes.Dashboard";
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.dialog = useService("dialog");
        this.failures = 0;
        // Not useService: bus_service is declared `async: true`, which useService cannot wrap in 17.0.
        this.bus = this.env.services.bus_service;
        this.state = useState({ data: null, loading: true });
        this.statusLabel = statusLabel;
        this.statusClass = statusClass;
        this.modeLabel = modeLabel;
        this.triggerLabel = triggerLabel;
        this.formatTime = formatTime;
        this.formatPercent = formatPercent;
        this.formatSeconds = formatSeconds;

        const onNotification = ({ detail }) => {
            if (detail.some((n) => n.type === BUS_TYPE)) {
                this.load();
            }
        };
        this.bus.addEventListener("notification", onNotification);
        this.bus.start();
        onWillStart(() => this.tick());
        onWillUnmount(() => {
            this.stopped = true;
            clearTimeout(this.timer);
            this.bus.removeEventListener("notification", onNotification);
        });
    }

    get status() {
        return this.state.data && this.state.data.status;
    }

    get running() {
        return this.status && this.status.running;
    }

    get isAdmin() {
        return this.state.data && this.state.data.is_admin;
    }

    async load() {
        this.state.data = await this.orm.call("sdmk.regnakes.service", "dashboard_data", []);
        this.state.loading = false;
    }

    /** One refresh, then the next one scheduled: soon while a batch runs or after a failure. */
    async tick() {
        try {
            await this.load();
            this.failures = this.state.data.error ? this.failures + 1 : 0;
        } catch {
            this.failures += 1;
        }
        if (!this.stopped) {
            clearTimeout(this.timer);
            this.timer = setTimeout(() => this.tick(), this.nextDelay());
        }
    }

    nextDelay() {
        if (this.failures) {
            return Math.min(1000 * 2 ** (this.failures - 1), MAX_BACKOFF_MS);
        }
        return this.running ? POLL_MS : IDLE_POLL_MS;
    }

    openWizard(xmlid) {
        return this.action.doAction(xmlid, { onClose: () => this.load() });
    }

    syncNow() {
        return this.openWizard("sdmk_integration_regnakes.action_regnakes_sync_wizard");
    }

    toggleEnabled() {
        return this.openWizard(
            this.status.enabled
                ? "sdmk_integration_regnakes.action_regnakes_disable"
                : "sdmk_integration_regnakes.action_regnakes_enable"
        );
    }

    cancelRunning() {
        this.dialog.add(ConfirmationDialog, {
            body: _t("Cancel the running sync? It stops at the next page; what was stored stays."),
            confirm: async () => {
                const batch = this.state.data.batches.find((b) => b.batch_uid === this.running.id);
                if (batch) {
                    await this.orm.call("sdmk.regnakes.batch", "action_cancel", [[batch.id]]);
                }
                await this.load();
            },
            cancel: () => {},
        });
    }

    openBatch(id) {
        return this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "sdmk.regnakes.batch",
            res_id: id,
            views: [[false, "form"]],
            name: _t("Sync batch"),
        });
    }

    openAction(xmlid) {
        return this.action.doAction(xmlid);
    }

    /** Health workers, filtered on those the registry no longer has. */
    openMissing() {
        return this.action.doAction({
            type: "ir.actions.client",
            tag: "sdmk_regnakes.workers",
            name: _t("Health workers"),
            params: { missing: true },
        });
    }
}

registry.category("actions").add("sdmk_regnakes.dashboard", RegnakesDashboard);
