#!/usr/bin/env node
// Smoke test of a running casefile host, through its API: one diagnosis on the
// normal path and one for a tenant whose primary log source is down, each through
// to a report, a ticket, a passing regression and a closed ticket.
// Node 20, no npm dependencies.
//
//   node scripts/workflows/debug-report-smoke.mjs [--server URL] [--token TOKEN]
//     [--tenant default] [--degraded-tenant smoke-degraded] [--plugin smoke-plugin]
//     [--env prod]... [--deadline-seconds 60] [--close-deadline-seconds 120] [--ref smoke]
//
// The degraded case needs a tenant whose primary source is down by design (say, a
// source at an address nothing serves, with a fallback): the host cannot be told
// to take a real source down, so the deployment declares one (README, "Workflow
// scripts"). --token (or CASEFILE_TOKEN) must be allowed to open diagnoses and to
// read and regress them (admin); --service-token (CASEFILE_SERVICE_TOKEN), when
// given, opens them instead.
//
// Fails (exit 1, with the reason) when a report is missing, later than
// --deadline-seconds after the trigger, incomplete without saying so (a source
// that did not answer without its error, the primary source down but the report
// claiming every source answered), or when the ticket did not close. Exit 2: wrong
// arguments.

import { parseArgs } from "node:util";

const USAGE =
  "usage: debug-report-smoke.mjs [--server URL] [--token T] [--service-token T] [--tenant T] [--degraded-tenant T] " +
  "[--plugin P] [--env E]... [--deadline-seconds 60] [--close-deadline-seconds 120] [--ref REF]";

function usage(message) {
  console.error(`error: ${message}`);
  console.error(USAGE);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      server: { type: "string" },
      token: { type: "string" },
      "service-token": { type: "string" },
      tenant: { type: "string", default: "default" },
      "degraded-tenant": { type: "string" },
      plugin: { type: "string", default: "smoke-plugin" },
      env: { type: "string", multiple: true, default: [] },
      "deadline-seconds": { type: "string", default: "60" },
      "close-deadline-seconds": { type: "string", default: "120" },
      ref: { type: "string", default: "smoke" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  }).values;
} catch (e) {
  usage(e.message);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const server = (args.server ?? process.env.CASEFILE_SERVER ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
const token = args.token ?? process.env.CASEFILE_TOKEN;
const serviceToken = args["service-token"] ?? process.env.CASEFILE_SERVICE_TOKEN ?? token;
if (!token) usage("give a token with --token or CASEFILE_TOKEN");
const degradedTenant = args["degraded-tenant"] ?? process.env.CASEFILE_SMOKE_DEGRADED_TENANT ?? "smoke-degraded";
const seconds = (name) => {
  const v = Number(args[name]);
  if (!Number.isFinite(v) || v <= 0) usage(`--${name} must be a positive number`);
  return v;
};
const reportDeadline = seconds("deadline-seconds") * 1000;
const closeDeadline = seconds("close-deadline-seconds") * 1000;
// A report that comes after the deadline is late; one that has not come by this
// much later is missing.
const reportGiveUp = Math.max(reportDeadline * 2, reportDeadline + 30_000);

class Failure extends Error {}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function call(method, path, body, bearer = token) {
  let response;
  try {
    response = await fetch(`${server}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new Failure(`cannot reach the casefile host at ${server} (${e.cause?.code ?? e.message})`);
  }
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // reported below with the status
  }
  if (!response.ok) {
    const err = json?.error ?? {};
    throw new Failure(`${method} ${path} answered ${response.status}: ${err.code ?? ""} ${err.message ?? text.slice(0, 200)}`.trim());
  }
  if (json === null) throw new Failure(`${method} ${path} answered something that is not JSON: ${text.slice(0, 200)}`);
  return json;
}

const view = (task) => call("GET", `/internal/debug/report/${task}`);
const NOT_YET_REPORTED = new Set(["queued", "collecting", "masking", "reporting"]);

/// What the report says of its sources; throws when it is incomplete without saying so.
function checkSources(report, mustBeDegraded) {
  if (!Array.isArray(report.sources)) {
    throw new Failure("the report has no sources section, so it cannot say whether it is complete");
  }
  const silent = report.sources.filter((s) => s.status !== "used" && !(typeof s.error === "string" && s.error.trim()));
  if (silent.length > 0) {
    throw new Failure(`the report is incomplete without saying why: source(s) ${silent.map((s) => `${s.name} (${s.status})`).join(", ")} carry no error`);
  }
  const unknown = report.sources.filter((s) => !["used", "degraded", "missing"].includes(s.status));
  if (unknown.length > 0) throw new Failure(`the report names source states it should not: ${JSON.stringify(unknown)}`);
  const notUsed = report.sources.filter((s) => s.status !== "used");
  if (mustBeDegraded && notUsed.length === 0) {
    throw new Failure(
      `the primary source of tenant ${degradedTenant} is meant to be down, but the report says every source answered ` +
        `(${report.sources.map((s) => s.name).join(", ") || "no sources"}): it is incomplete without saying so, or the tenant is not set up for the smoke`,
    );
  }
  return report.sources.map((s) => `${s.name} ${s.status}${s.fallback ? ` via ${s.fallback}` : ""}`).join(", ") || "no sources";
}

async function smoke(name, tenant, mustBeDegraded) {
  const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const request = {
    error_event_id: `smoke-${run}-${name}`,
    tenant,
    plugin: { id: args.plugin },
    message: `casefile smoke ${run} (${name} path): simulated failure`,
  };
  if (args.env.length > 0) request.environments = args.env;
  const t0 = Date.now();
  const created = await call("POST", "/internal/debug/report", request, serviceToken);
  const task = created.task_id;
  if (typeof task !== "string") throw new Failure(`opening the diagnosis gave no task_id: ${JSON.stringify(created)}`);

  // The report.
  let t;
  for (;;) {
    t = await view(task);
    if (t.state === "failed") {
      throw new Failure(`task ${task}: the diagnosis failed, no report: ${t.error?.code ?? ""} ${t.error?.message ?? ""}`.trim());
    }
    if (t.report && !NOT_YET_REPORTED.has(t.state)) break;
    if (Date.now() - t0 > reportGiveUp) {
      throw new Failure(`task ${task}: report missing ${((Date.now() - t0) / 1000).toFixed(1)} s after the trigger (state ${t.state})`);
    }
    await sleep(250);
  }
  const reportMs = Date.now() - t0;
  if (reportMs > reportDeadline) {
    throw new Failure(`task ${task}: report late: ${(reportMs / 1000).toFixed(1)} s after the trigger, the deadline is ${reportDeadline / 1000} s`);
  }
  for (const field of ["title", "fingerprint", "generated_at"]) {
    if (!t.report[field]) throw new Failure(`task ${task}: the report has no ${field}`);
  }
  const sources = checkSources(t.report, mustBeDegraded);

  // The ticket.
  while (!(t.state === "awaiting_fix" && t.ticket?.id)) {
    if (t.state === "failed") throw new Failure(`task ${task}: failed before its ticket: ${t.error?.message ?? ""}`);
    if (t.state === "awaiting_fix" && !t.ticket) {
      throw new Failure(`task ${task}: no ticket was opened (the ticket bridge is off, or no ticket endpoint or mapper is set), so none can close`);
    }
    if (Date.now() - t0 > closeDeadline) {
      throw new Failure(`task ${task}: no ticket within ${closeDeadline / 1000} s (state ${t.state}${t.ticket?.delivery ? `; ${t.ticket.delivery.detail}` : ""})`);
    }
    await sleep(250);
    t = await view(task);
  }
  const ticket = t.ticket.id;

  // Regression, and the ticket closing.
  const r0 = Date.now();
  await call("POST", `/internal/debug/report/${task}/regression`, { ref: args.ref });
  for (;;) {
    t = await view(task);
    if (t.state === "closed") break;
    const history = t.history ?? [];
    const verified = history.some((h) => h.state === "verifying");
    if (verified && t.state === "awaiting_fix") {
      const last = history[history.length - 1];
      throw new Failure(`task ${task}: the ticket did not close: regression failed (${last?.detail ?? "no detail"}); ticket ${ticket} stays open`);
    }
    if (t.state === "failed") throw new Failure(`task ${task}: the ticket did not close: the task failed (${t.error?.message ?? ""})`);
    if (Date.now() - r0 > closeDeadline) {
      throw new Failure(
        `task ${task}: the ticket did not close within ${closeDeadline / 1000} s of the regression (task ${t.state}, ticket ${ticket} ${t.ticket?.state ?? "?"}` +
          `${t.ticket?.delivery ? `; ${t.ticket.delivery.detail}` : ""})`,
      );
    }
    await sleep(250);
  }
  if (t.ticket?.state !== "closed") {
    throw new Failure(`task ${task}: the task closed but ticket ${ticket} is ${t.ticket?.state ?? "gone"}, not closed`);
  }
  return `ok ${name}: task ${task}, report in ${(reportMs / 1000).toFixed(1)} s (sources: ${sources}), ticket ${ticket} closed ${((Date.now() - r0) / 1000).toFixed(1)} s after the regression started`;
}

const failures = [];
for (const [name, tenant, degraded] of [
  ["normal", args.tenant, false],
  ["primary-source-down", degradedTenant, true],
]) {
  try {
    console.log(await smoke(name, tenant, degraded));
  } catch (e) {
    if (!(e instanceof Failure)) throw e;
    failures.push(`${name} (tenant ${tenant}): ${e.message}`);
    console.error(`FAILED ${name} (tenant ${tenant}): ${e.message}`);
  }
}
if (failures.length > 0) {
  console.error(`smoke failed: ${failures.length} of 2 cases`);
  process.exit(1);
}
console.log("smoke passed: 2 of 2 cases");
