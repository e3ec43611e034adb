/** @odoo-module **/
// What the server's values mean, in the user's language, and how dates from the server are shown.

import { _t } from "@web/core/l10n/translation";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";

const { DateTime } = luxon;

export function statusLabel(status) {
    const labels = {
        running: _t("Running"),
        succeeded: _t("Succeeded"),
        partial: _t("Partial"),
        failed: _t("Failed"),
        cancelled: _t("Cancelled"),
        skipped: _t("Skipped"),
    };
    return labels[status] || status || "";
}

export function triggerLabel(trigger) {
    const labels = {
        schedule: _t("Server schedule"),
        cron: _t("Odoo cron"),
        manual: _t("Manual"),
        retry: _t("Retry of rejected rows"),
        review: _t("Review decision"),
    };
    return labels[trigger] || trigger || "";
}

export function modeLabel(mode) {
    const labels = { incremental: _t("Incremental"), full: _t("Full") };
    return labels[mode] || mode || "";
}

/** An STR's status (`str_status` of a health worker), as a person reads it. */
export function strStatusLabel(status) {
    const labels = { aktif: _t("Active"), nonaktif: _t("Inactive"), dicabut: _t("Revoked") };
    return labels[status] || status || "";
}

export function statusClass(status) {
    return (
        {
            running: "text-bg-info",
            succeeded: "text-bg-success",
            partial: "text-bg-warning",
            failed: "text-bg-danger",
        }[status] || "text-bg-secondary"
    );
}

/** An RFC 3339 time of the server, or a naive UTC datetime string of Odoo, in the user's zone. */
export function formatTime(value) {
    if (!value) {
        return "—";
    }
    const parsed = value.includes("T")
        ? DateTime.fromISO(value, { setZone: false })
        : deserializeDateTime(value);
    return parsed.isValid ? formatDateTime(parsed) : value;
}

export function formatPercent(rate) {
    return `${((rate || 0) * 100).toFixed(1)} %`;
}

export function formatSeconds(seconds) {
    if (seconds === null || seconds === undefined || seconds === false) {
        return "—";
    }
    return seconds < 90 ? `${seconds.toFixed(1)} s` : `${(seconds / 60).toFixed(1)} min`;
}
