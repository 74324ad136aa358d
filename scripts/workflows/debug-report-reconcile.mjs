#!/usr/bin/env node
// Runs casefile's reconcile against a running host through its API
// (POST /internal/debug/reconcile) and prints what it found and repaired.
// Node 20, no npm dependencies.
//
//   node scripts/workflows/debug-report-reconcile.mjs [--server URL] [--token TOKEN] [--dry-run] [--json]
//
// --server defaults to CASEFILE_SERVER, then http://127.0.0.1:8080; --token to
// CASEFILE_TOKEN (a platform or admin token). Exit codes: 0 reconciled (or the dry
// run listed what it would do), 1 the host refused or failed or could not be
// reached, 2 the arguments are wrong.

import { parseArgs } from "node:util";

function usage(message) {
  console.error(`error: ${message}`);
  console.error("usage: debug-report-reconcile.mjs [--server URL] [--token TOKEN] [--dry-run] [--json] [--timeout-seconds N]");
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      server: { type: "string" },
      token: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      "timeout-seconds": { type: "string", default: "60" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  }).values;
} catch (e) {
  usage(e.message);
}
if (args.help) {
  console.log("usage: debug-report-reconcile.mjs [--server URL] [--token TOKEN] [--dry-run] [--json] [--timeout-seconds N]");
  process.exit(0);
}
const server = (args.server ?? process.env.CASEFILE_SERVER ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
const token = args.token ?? process.env.CASEFILE_TOKEN;
if (!token) usage("give a platform token with --token or CASEFILE_TOKEN");
const timeout = Number(args["timeout-seconds"]);
if (!Number.isFinite(timeout) || timeout <= 0) usage("--timeout-seconds must be a positive number");

let response;
try {
  response = await fetch(`${server}/internal/debug/reconcile`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ dry_run: args["dry-run"] }),
    signal: AbortSignal.timeout(timeout * 1000),
  });
} catch (e) {
  console.error(`reconcile failed: cannot reach the casefile host at ${server} (${e.cause?.code ?? e.message}); is it running? set --server or CASEFILE_SERVER`);
  process.exit(1);
}
const text = await response.text();
let body;
try {
  body = JSON.parse(text);
} catch {
  console.error(`reconcile failed: the host answered ${response.status} with something that is not JSON: ${text.slice(0, 300)}`);
  process.exit(1);
}
if (!response.ok) {
  const err = body?.error ?? {};
  console.error(`reconcile failed: ${err.code ?? "error"} (${response.status}): ${err.message ?? text.slice(0, 300)}`);
  process.exit(1);
}
if (!Array.isArray(body.repairs) || typeof body.checked !== "object") {
  console.error(`reconcile failed: the answer has no repairs or checked: ${text.slice(0, 300)}`);
  process.exit(1);
}

if (args.json) {
  console.log(JSON.stringify(body, null, 2));
  process.exit(0);
}
const dry = body.dry_run === true;
console.log(
  `reconcile${dry ? " (dry run, nothing changed)" : ""} at ${server}: ${body.checked.tasks} tasks, ${body.checked.tickets} tickets, ` +
    `${body.checked.pending_entries} pending ticket actions checked`,
);
console.log(`ticket states: ${body.ticket_states}`);
if (body.repairs.length === 0) console.log("nothing to repair");
for (const r of body.repairs) {
  const status = dry ? "would" : r.applied ? "repaired:" : "not repaired (moved on meanwhile):";
  const ticket = r.ticket_id ? ` ticket ${r.ticket_id}` : "";
  console.log(`${r.kind} tenant ${r.tenant} task ${r.task_id}${ticket}: ${r.found}; ${status} ${r.action}`);
}
for (const l of body.left ?? []) console.log(`left as is: tenant ${l.tenant}: ${l.reason}`);
if (body.checked.manual_hand_off > 0) {
  console.log(`${body.checked.manual_hand_off} task(s) without a ticket stay with manual hand-off (bridge off, or no ticket endpoint or mapper)`);
}
const applied = body.repairs.filter((r) => r.applied).length;
console.log(dry ? `${body.repairs.length} repair(s) found` : `${applied} repair(s) done`);
