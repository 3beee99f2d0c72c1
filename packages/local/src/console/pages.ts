/**
 * The console's pages. Every value goes through the portal's escaping `html` tag; the only
 * unescaped markup is our own SVG, itself built with the same tag.
 */

import { StateMachines } from "@secondlook/core/blueprint";
import { Settings } from "@secondlook/core/settings";
import { html, type SafeHtml } from "../portal/html";
import type { Session } from "../portal/sessions";
import type { ExecutionListItem, ExecutionStatus, HistoryEvent, MapRunDescription } from "../states/engine";
import {
  EXECUTION_STATUSES,
  type ExecutionView,
  type LoopView,
  type MachineKey,
  type ModelVersionView,
} from "./data";
import { STATUS_LABELS, type StateStatus } from "./graph";
import { bucketName, chart, type Health, percent, type StoredOutcome } from "./health";

export const BASE = "/console";
const IMAGE_KEY = /\.(png|jpe?g|gif|webp)$/i;

const csrfField = (session: Session) => html`<input type="hidden" name="_csrf" value="${session.csrfToken}">`;

export const executionUrl = (arn: string) => `${BASE}/executions/${encodeURIComponent(arn)}`;
export const loopUrl = (name: string) => `${BASE}/loops/${encodeURIComponent(name)}`;
export const imageUrl = (key: string) => `${BASE}/image?key=${encodeURIComponent(key)}`;
export const outcomeUrl = (name: string) => `${BASE}/outcomes/${encodeURIComponent(name)}`;

type Section = "executions" | "loops" | "models" | "health" | "settings";

function frame(session: Session, title: string, section: Section, body: SafeHtml): string {
  const link = (to: Section, label: string) =>
    html`<a href="${BASE}/${to}"${to === section ? html` aria-current="page"` : html``}>${label}</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · secondlook console</title>
<meta name="csrf-token" content="${session.csrfToken}">
<link rel="icon" href="/static/favicon.svg">
<link rel="stylesheet" href="${BASE}/static/console.css">
<script src="${BASE}/static/console.js" defer></script>
</head>
<body>
<header class="bar"><a class="brand" href="${BASE}/executions"><span class="logo" aria-hidden="true"></span>secondlook <span class="muted">console</span></a>
<nav class="nav">${link("executions", "Executions")}${link("loops", "Human loops")}${link("models", "Models")}${link("health", "Health")}${link("settings", "Settings")}<a href="/">Reviews</a><span class="who">${session.username ?? ""}</span></nav></header>
<main>${body}</main>
</body>
</html>`.value;
}

const fmtTime = (epochSeconds: number | undefined) =>
  epochSeconds === undefined
    ? "—"
    : new Date(epochSeconds * 1000).toISOString().replace("T", " ").slice(0, 19);

const fmtDate = (date: Date | undefined) => (date ? fmtTime(date.getTime() / 1000) : "—");

function duration(start: number, stop: number | undefined, now: Date): string {
  const seconds = (stop ?? now.getTime() / 1000) - start;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

const badge = (status: string) => html`<span class="badge ${status.toLowerCase()}">${status}</span>`;

/** The executions of one state machine, newest first, 25 a page. */
export function executionsPage(
  session: Session,
  input: {
    machine: MachineKey;
    mapRunArn: string | undefined;
    status: ExecutionStatus | undefined;
    pageSize: number;
    executions: ExecutionListItem[];
    nextToken: string | undefined;
    now: Date;
  },
): string {
  const query = (over: { machine?: MachineKey; status?: string; next?: string }) => {
    const q = new URLSearchParams({ machine: over.machine ?? input.machine });
    if (input.mapRunArn && over.machine === undefined) q.set("mapRun", input.mapRunArn);
    const status = over.status ?? input.status;
    if (status) q.set("status", status);
    if (input.pageSize !== 25) q.set("size", String(input.pageSize));
    if (over.next) q.set("next", over.next);
    return `${BASE}/executions?${q}`;
  };
  const machines = (Object.keys(StateMachines) as MachineKey[]).map(
    (key) =>
      html`<a class="tab" href="${query({ machine: key, status: "" })}"${key === input.machine ? html` aria-current="page"` : html``}>${StateMachines[key].name}</a>`,
  );
  const filters = ["", ...EXECUTION_STATUSES].map(
    (s) =>
      html`<a class="chip" href="${query({ status: s })}"${(input.status ?? "") === s ? html` aria-current="true"` : html``}>${s === "" ? "All" : s}</a>`,
  );
  const rows = input.executions.map(
    (e) =>
      html`<tr data-status="${e.status}"><td><a href="${executionUrl(e.executionArn)}">${e.name}</a></td><td>${badge(e.status)}</td><td>${fmtTime(e.startDate)}</td><td>${fmtTime(e.stopDate)}</td><td>${duration(e.startDate, e.stopDate, input.now)}</td></tr>`,
  );
  return frame(
    session,
    "Executions",
    "executions",
    html`<h1>Executions</h1>
<div class="tabs">${machines}</div>
${input.mapRunArn ? html`<p class="muted">Child executions of map run <span class="arn">${input.mapRunArn}</span></p>` : html``}
<div class="chips" aria-label="Filter by status">${filters}</div>
<section id="live" data-stream="${BASE}/stream">
<table class="list"><thead><tr><th>Name</th><th>Status</th><th>Started (UTC)</th><th>Ended (UTC)</th><th>Duration</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="5" class="muted">No executions${input.status ? html` with status ${input.status}` : html``} yet.</td></tr>`}</tbody></table>
${input.nextToken ? html`<p class="pager"><a href="${query({ next: input.nextToken })}">Older executions →</a></p>` : html``}
</section>`,
  );
}

function eventDetails(event: HistoryEvent): { name: string | undefined; payload: string | undefined } {
  for (const [key, value] of Object.entries(event)) {
    if (!key.endsWith("EventDetails") || typeof value !== "object" || value === null) continue;
    const details = value as Record<string, unknown>;
    const name = typeof details.name === "string" ? details.name : undefined;
    return { name, payload: JSON.stringify(details, prettyJsonStrings, 2) };
  }
  return { name: undefined, payload: undefined };
}

/** Inputs and outputs travel as JSON strings; show them as the JSON they hold. */
function prettyJsonStrings(key: string, value: unknown): unknown {
  if (typeof value !== "string" || !["input", "output", "parameters", "cause"].includes(key)) return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

const PROGRESS_PARTS = [
  ["succeeded", "succeeded"],
  ["failed", "failed"],
  ["timedOut", "failed"],
  ["aborted", "aborted"],
  ["running", "running"],
  ["pending", "pending"],
] as const;

/** A batch's map runs with their progress, like the Step Functions console's Map Run page. */
function mapRunsSection(runs: MapRunDescription[]): SafeHtml {
  return html`<section class="map-runs"><h2>Map runs</h2>${runs.map((run) => {
    const counts = run.itemCounts;
    const total = Math.max(counts.total, 1);
    let x = 0;
    // SVG geometry, not inline styles: the CSP allows no inline style.
    const parts = PROGRESS_PARTS.map(([field, cls]) => {
      const width = (counts[field] / total) * 100;
      const part =
        width > 0 ? html`<rect class="${cls}" x="${x}" y="0" width="${width}" height="10"/>` : html``;
      x += width;
      return part;
    });
    const done = counts.succeeded + counts.failed + counts.timedOut + counts.aborted;
    return html`<div class="map-run" data-map-run="${run.mapRunArn}"><div class="map-run-head">${badge(run.status)} <span class="arn">${run.mapRunArn.split(":").slice(-2).join(":")}</span> <span class="muted">started ${fmtTime(run.startDate)}, max concurrency ${run.maxConcurrency || "unlimited"}, tolerated failures ${run.toleratedFailurePercentage} %</span></div>
<svg class="progress" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label="${done} of ${counts.total} items done"><rect class="track" x="0" y="0" width="100" height="10"/>${parts}</svg>
<p class="counts"><b class="items-succeeded">${counts.succeeded}</b> succeeded · <b class="items-failed">${counts.failed + counts.timedOut}</b> failed · <b>${counts.aborted}</b> aborted · <b class="items-running">${counts.running}</b> running · <b class="items-pending">${counts.pending}</b> pending · of <b class="items-total">${counts.total}</b> items · <a href="${BASE}/executions?mapRun=${encodeURIComponent(run.mapRunArn)}">child executions</a></p></div>`;
  })}</section>`;
}

/** One execution: status, links, the coloured graph and the event history. */
export function executionPage(
  session: Session,
  view: ExecutionView,
  graph: SafeHtml,
  statuses: Map<string, StateStatus>,
  now: Date,
): string {
  const d = view.description;
  const legend = (Object.keys(STATUS_LABELS) as StateStatus[]).map(
    (s) => html`<span class="key ${s}"><i class="swatch"></i>${STATUS_LABELS[s]}</span>`,
  );
  // Task events carry no state name; like the Step Functions console, show the state they belong to.
  let within: string | undefined;
  const events = view.events.map((e) => {
    const { name, payload } = eventDetails(e);
    if (e.type.endsWith("StateEntered")) within = name;
    const state = name ?? within;
    if (e.type.endsWith("StateExited")) within = undefined;
    return html`<tr><td>${e.id}</td><td class="type">${e.type}</td><td${name ? html`` : html` class="muted"`}>${state ?? ""}</td><td>${fmtTime(e.timestamp)}</td><td>${payload ? html`<details><summary>details</summary><pre>${payload}</pre></details>` : html``}</td></tr>`;
  });
  const stateRows = [...statuses].map(
    ([name, s]) =>
      html`<li class="${s}" data-state="${name}"><i class="swatch"></i>${name} <span class="muted">${STATUS_LABELS[s]}</span></li>`,
  );
  const links = [
    view.image && IMAGE_KEY.test(view.image.key)
      ? html`<a href="${imageUrl(view.image.key)}" class="thumb"><img src="${imageUrl(view.image.key)}" alt="The image under review"><span>${view.image.key}</span></a>`
      : html``,
    // A batch starts from its manifest: name it, it is not an image to show.
    view.image && !IMAGE_KEY.test(view.image.key) ? html`<span>Started by ${view.image.uri}</span>` : html``,
    view.loopName ? html`<a href="${loopUrl(view.loopName)}">Human loop ${view.loopName}</a>` : html``,
    view.outcome ? html`<a href="${outcomeUrl(d.name)}">Outcome: ${view.outcome.outcome}</a>` : html``,
  ];
  return frame(
    session,
    d.name,
    "executions",
    html`<p class="crumbs"><a href="${BASE}/executions">Executions</a> / ${d.name}</p>
<section id="live" data-stream="${view.mapRuns.length ? `${BASE}/stream` : `${BASE}/stream?execution=${encodeURIComponent(d.executionArn)}`}" data-status="${d.status}">
<h1>${d.name} ${badge(d.status)}</h1>
<dl class="facts"><dt>State machine</dt><dd>${d.stateMachineArn.split(":").pop() ?? ""}</dd><dt>Started</dt><dd>${fmtTime(d.startDate)}</dd><dt>Ended</dt><dd>${fmtTime(d.stopDate)}</dd><dt>Duration</dt><dd>${duration(d.startDate, d.stopDate, now)}</dd>${d.error ? html`<dt>Error</dt><dd class="error">${d.error}: ${d.cause ?? ""}</dd>` : html``}</dl>
<div class="links">${links}</div>
${view.mapRuns.length ? mapRunsSection(view.mapRuns) : html``}
<div class="graph-panel"><div class="graph-wrap">${graph}</div><div><div class="legend">${legend}</div><ul class="states">${stateRows}</ul></div></div>
<h2>Event history</h2>
<table class="list history"><thead><tr><th>#</th><th>Type</th><th>State</th><th>Time (UTC)</th><th>Input / output</th></tr></thead><tbody>${events}</tbody></table>
</section>`,
  );
}

function answersTable(loop: LoopView): SafeHtml {
  const answers = loop.output?.answers ?? [];
  if (answers.length === 0) return html`<p class="muted">No answers yet.</p>`;
  return html`<table class="list answers"><thead><tr><th>Reviewer</th><th>Answer</th><th>Submitted (UTC)</th><th>Time spent</th></tr></thead><tbody>${answers.map(
    (a) =>
      html`<tr><td>${a.workerId}</td><td class="answer">${a.label}</td><td>${a.submissionTime.replace("T", " ").slice(0, 19)}</td><td>${a.timeSpentInSeconds === undefined ? "—" : `${a.timeSpentInSeconds} s`}</td></tr>`,
  )}</tbody></table>`;
}

function loopImage(loop: LoopView): SafeHtml {
  const uri = loop.output?.inputContent.taskObject;
  const key = uri?.replace(/^s3:\/\/[^/]+\//, "");
  return key ? html`<img class="loop-image" src="${imageUrl(key)}" alt="The image reviewed">` : html``;
}

/** Human loops, newest first, with their answers per reviewer. */
export function loopsPage(session: Session, loops: LoopView[], nextToken: string | undefined): string {
  const rows = loops.map((l) => {
    const spent = (l.output?.answers ?? []).reduce((sum, a) => sum + (a.timeSpentInSeconds ?? 0), 0);
    return html`<tr><td>${loopImage(l)}</td><td><a href="${loopUrl(l.name)}">${l.name}</a></td><td>${badge(l.status)}</td><td>${fmtDate(l.createdAt)}</td><td>${(l.output?.answers ?? []).map((a) => html`<div>${a.workerId}: <b>${a.label}</b></div>`)}</td><td>${l.output ? `${spent} s` : "—"}</td></tr>`;
  });
  return frame(
    session,
    "Human loops",
    "loops",
    html`<h1>Human loops</h1>
<table class="list"><thead><tr><th>Image</th><th>Loop</th><th>Status</th><th>Created (UTC)</th><th>Answers</th><th>Time spent</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="6" class="muted">No human loops yet.</td></tr>`}</tbody></table>
${nextToken ? html`<p class="pager"><a href="${BASE}/loops?next=${encodeURIComponent(nextToken)}">Older loops →</a></p>` : html``}`,
  );
}

/** One human loop: what the model said, the image, each reviewer's answer. */
export function loopPage(session: Session, loop: LoopView): string {
  const input = loop.output?.inputContent;
  return frame(
    session,
    loop.name,
    "loops",
    html`<p class="crumbs"><a href="${BASE}/loops">Human loops</a> / ${loop.name}</p>
<h1>${loop.name} ${badge(loop.status)}</h1>
<dl class="facts"><dt>Created</dt><dd>${fmtDate(loop.createdAt)}</dd>${input ? html`<dt>Model said</dt><dd>${input.detectedLabel ?? "nothing"} (${input.confidence.toFixed(1)} %)</dd><dt>Why a human</dt><dd>${input.reason}</dd>` : html``}${loop.failureReason ? html`<dt>Failure</dt><dd class="error">${loop.failureReason}</dd>` : html``}${loop.outputUri ? html`<dt>Output</dt><dd>${loop.outputUri}</dd>` : html``}</dl>
${loopImage(loop)}
<h2>Answers</h2>
${answersTable(loop)}`,
  );
}

/** The outcome record, as stored. */
export function outcomePage(session: Session, name: string, record: StoredOutcome): string {
  return frame(
    session,
    `Outcome of ${name}`,
    "executions",
    html`<p class="crumbs"><a href="${BASE}/executions">Executions</a> / outcome of ${name}</p>
<h1>Outcome: ${record.outcome}</h1>
<pre class="json">${JSON.stringify(record, null, 2)}</pre>`,
  );
}

const fixed = (v: number | undefined, digits = 3) => (v === undefined ? "—" : v.toFixed(digits));

function confusionTable(m: ModelVersionView): SafeHtml {
  if (m.confusion.size === 0) return html`<p class="muted">No evaluation yet.</p>`;
  const labels = [
    ...new Set([
      ...m.labels,
      ...m.confusion.keys(),
      ...[...m.confusion.values()].flatMap((r) => [...r.keys()]),
    ]),
  ];
  return html`<table class="confusion"><caption>Confusion matrix (rows: true label, columns: predicted; share of each row)</caption>
<thead><tr><th></th>${labels.map((l) => html`<th>${l}</th>`)}</tr></thead><tbody>${labels.map(
    (truth) =>
      html`<tr><th>${truth}</th>${labels.map((p) => {
        const v = m.confusion.get(truth)?.get(p) ?? 0;
        const level = Math.round(v * 5);
        return html`<td class="heat h${level}${truth === p ? " diag" : ""}">${v === 0 ? "" : `${Math.round(v * 100)}%`}</td>`;
      })}</tr>`,
  )}</tbody></table>`;
}

/** Model versions with their evaluation; the active one first. */
export function modelsPage(session: Session, models: ModelVersionView[]): string {
  const sorted = [...models].sort(
    (a, b) =>
      Number(b.active) - Number(a.active) || (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0),
  );
  const cards = sorted.map(
    (
      m,
    ) => html`<article class="card model${m.active ? " active" : ""}"><h2>${m.name} ${badge(m.status)}${m.active ? html` <span class="badge active">active</span>` : html``}</h2>
<dl class="facts"><dt>Created</dt><dd>${fmtDate(m.createdAt)}</dd><dt>F1</dt><dd class="f1">${fixed(m.f1)}</dd><dt>Precision</dt><dd>${fixed(m.precision)}</dd><dt>Recall</dt><dd>${fixed(m.recall)}</dd><dt>ARN</dt><dd class="arn">${m.arn}</dd></dl>
${confusionTable(m)}</article>`,
  );
  return frame(
    session,
    "Models",
    "models",
    html`<h1>Model versions</h1>${cards.length ? cards : html`<p class="muted">No model has been trained yet.</p>`}`,
  );
}

/** The loop's health: charts over hours and a table per model version. */
export function healthPage(session: Session, health: Health): string {
  const pct = (part: number, whole: number) => {
    const p = percent(part, whole);
    return p === undefined ? "—" : `${p.toFixed(1)} %`;
  };
  const t = health.total;
  const models = health.byModel.map(
    (b) =>
      html`<tr><td class="arn">${b.key.split("/version/")[1]?.split("/")[0] ?? b.key}</td><td>${b.images}</td><td>${pct(b.humanReviewed, b.images)}</td><td>${b.audits}</td><td>${pct(b.auditsCorrect, b.audits)}</td><td>${b.failed}</td></tr>`,
  );
  return frame(
    session,
    "Health",
    "health",
    html`<h1>The loop's health</h1>
<div class="stats"><div><b>${t.images}</b><span>images</span></div><div><b>${pct(t.humanReviewed, t.images)}</b><span>sent to a human</span></div><div><b>${pct(t.auditsCorrect, t.audits)}</b><span>auto-label accuracy (${t.audits} audits)</span></div><div><b>${t.failed}</b><span>failed</span></div></div>
<div class="charts">
${chart(`Images ${bucketName(health.bucketMs)}`, health.overTime, (b) => b.images, { kind: "bar", className: "images" })}
${chart(`Human review rate (${bucketName(health.bucketMs)})`, health.overTime, (b) => percent(b.humanReviewed, b.images), { kind: "line", max: 100, unit: "%", className: "review-rate" })}
${chart(`Auto-label accuracy from audits (${bucketName(health.bucketMs)})`, health.overTime, (b) => percent(b.auditsCorrect, b.audits), { kind: "line", max: 100, unit: "%", className: "accuracy" })}
</div>
<h2>Per model version</h2>
<table class="list"><thead><tr><th>Model version</th><th>Images</th><th>Human review rate</th><th>Audits</th><th>Auto-label accuracy</th><th>Failed</th></tr></thead><tbody>${models.length ? models : html`<tr><td colspan="6" class="muted">No outcomes recorded yet.</td></tr>`}</tbody></table>
${health.unreadable ? html`<p class="muted">${health.unreadable} outcome records could not be read and are not counted.</p>` : html``}
<p class="muted">An audit is a confident detection that human sampling sent to a reviewer anyway; it is correct when the reviewers chose the model's label.</p>`,
  );
}

const SETTING_HELP: Record<string, string> = {
  labels: 'JSON array, e.g. ["Acme","Globex"]',
  "human-review-enabled": "true or false",
  "auto-training-enabled": "true or false",
};

/** The settings (SSM parameters) as a form; `values` are the raw parameter strings. */
export function settingsPage(
  session: Session,
  values: Record<string, string>,
  options: { error?: string; notice?: string } = {},
): string {
  const fields = Settings.keys.map((key) => {
    const name = Settings.parameterName(key);
    return html`<label><span class="name">${name}</span><input name="${name}" value="${values[name] ?? ""}"${SETTING_HELP[name] ? html` placeholder="${SETTING_HELP[name]}"` : html``}></label>`;
  });
  return frame(
    session,
    "Settings",
    "settings",
    html`<h1>Settings</h1>
<p class="muted">SSM parameters under the stage's settings path. Changes take effect without a restart; the handlers re-read them within their cache time.</p>
${options.error ? html`<p class="error" role="alert">${options.error}</p>` : html``}
${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : html``}
<form method="post" action="${BASE}/settings" class="settings">${csrfField(session)}${fields}<button class="primary">Save settings</button></form>`,
  );
}

/** A console message page (not found, refused). */
export function consoleMessage(session: Session, title: string, message: string): string {
  return frame(session, title, "executions", html`<h1>${title}</h1><p>${message}</p>`);
}
