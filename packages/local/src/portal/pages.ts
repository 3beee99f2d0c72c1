/**
 * The portal's pages. Every value goes through `html`, which escapes it; the only unescaped
 * insertion is the worker template, which the A2I Liquid dialect has already autoescaped.
 */
import type { OfferedTask } from "../a2i/workforce";
import { html, type SafeHtml } from "./html";
import type { Session } from "./sessions";

export interface PageFrame {
  title: string;
  session?: Session;
  /** Extra `<meta>` tags for the page's scripts. */
  meta?: SafeHtml;
  bodyClass?: string;
}

const csrfField = (session: Session) => html`<input type="hidden" name="_csrf" value="${session.csrfToken}">`;

function nav(session: Session | undefined): SafeHtml {
  if (!session?.username) return html``;
  const links = session.mustChangePassword
    ? html``
    : html`<a href="/">Queue</a><a href="/preview">Template preview</a><a href="/change-password">Password</a>`;
  return html`<nav class="nav">
    <span class="who" title="Signed in">${session.username}</span>${links}
    <form method="post" action="/sign-out" class="inline">${csrfField(session)}<button class="link">Sign out</button></form>
  </nav>`;
}

/** Wraps a page body in the portal's chrome. */
export function page(frame: PageFrame, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${frame.title} · secondlook reviews</title>
${frame.session ? html`<meta name="csrf-token" content="${frame.session.csrfToken}">` : html``}
${frame.meta ?? html``}
<link rel="icon" href="/static/favicon.svg">
<link rel="stylesheet" href="/static/portal.css">
<script src="/static/portal.js" defer></script>
</head>
<body class="${frame.bodyClass ?? ""}">
<header class="bar"><a class="brand" href="/"><span class="logo" aria-hidden="true"></span>secondlook <span class="muted">reviews</span></a>${nav(frame.session)}</header>
${body}
</body>
</html>`.value;
}

export function signInPage(session: Session, options: { error?: string; username?: string } = {}): string {
  return page(
    { title: "Sign in", session, bodyClass: "narrow" },
    html`<main class="card">
  <h1>Sign in</h1>
  <p class="muted">Sign in to review images the model was not sure about.</p>
  ${options.error ? html`<p class="error" role="alert">${options.error}</p>` : html``}
  <form method="post" action="/sign-in" class="stack">
    ${csrfField(session)}
    <label>Username <input name="username" autocomplete="username" required autofocus value="${options.username ?? ""}"></label>
    <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
    <button class="primary">Sign in</button>
  </form>
</main>`,
  );
}

export function changePasswordPage(session: Session, options: { error?: string; forced: boolean }): string {
  return page(
    { title: "Choose a password", session, bodyClass: "narrow" },
    html`<main class="card">
  <h1>${options.forced ? "Choose your own password" : "Change password"}</h1>
  <p class="muted">${
    options.forced
      ? "You signed in with a generated password. Choose a new one of at least 12 characters to continue."
      : "At least 12 characters. A passphrase of a few words is easy to type and hard to guess."
  }</p>
  ${options.error ? html`<p class="error" role="alert">${options.error}</p>` : html``}
  <form method="post" action="/change-password" class="stack">
    ${csrfField(session)}
    <input type="text" name="username" autocomplete="username" value="${session.username ?? ""}" hidden readonly>
    ${
      options.forced
        ? html``
        : html`<label>Current password <input name="currentPassword" type="password" autocomplete="current-password" required></label>`
    }
    <label>New password <input name="newPassword" type="password" autocomplete="new-password" minlength="12" required autofocus></label>
    <label>New password again <input name="confirmPassword" type="password" autocomplete="new-password" minlength="12" required></label>
    <button class="primary">Save password</button>
  </form>
</main>`,
  );
}

const NOTICES: Record<string, string> = {
  done: "All done: there is nothing left to review right now.",
  skipped: "Skipped. The task went back to the queue.",
  "password-changed": "Your password is saved.",
  expired: "Your time on that task ran out; it went back to the queue.",
};

export function homePage(session: Session, waiting: number, notice: string | undefined): string {
  const message = notice ? NOTICES[notice] : undefined;
  return page(
    { title: "Queue", session, bodyClass: "narrow" },
    html`<main class="card home">
  ${message ? html`<p class="notice" role="status">${message}</p>` : html``}
  <p class="big-count"><span id="waiting" data-testid="waiting">${waiting}</span></p>
  <p class="muted"><span id="waiting-noun">${waiting === 1 ? "task waiting for you" : "tasks waiting for you"}</span>${
    session.answered > 0 ? html` · ${session.answered} answered this session` : html``
  }</p>
  <form method="post" action="/work">
    ${csrfField(session)}
    <button class="primary large" id="start-working" ${waiting === 0 ? "disabled" : ""} autofocus>Start working</button>
  </form>
  <p class="hint">Tip: on a task, press <kbd>1</kbd>–<kbd>9</kbd> to pick, <kbd>Enter</kbd> to submit, <kbd>s</kbd> to skip, <kbd>?</kbd> for help.</p>
</main>`,
  );
}

export function messagePage(session: Session | undefined, title: string, message: string): string {
  return page(
    { title, session, bodyClass: "narrow" },
    html`<main class="card"><h1>${title}</h1><p>${message}</p><p><a href="/">Back to the queue</a></p></main>`,
  );
}

function formatLeft(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

const SHORTCUTS: [string, string][] = [
  ["1 – 9", "Pick that category"],
  ["Enter", "Submit the answer"],
  ["s", "Skip: give the task back and go to the next"],
  ["z", "Zoom the image (or click it)"],
  ["i", "Show the full instructions"],
  ["?", "Show or hide this help"],
  ["Esc", "Close a dialog or the zoomed image"],
];

export function shortcutsDialog(): SafeHtml {
  return html`<dialog id="shortcuts" class="shortcuts" aria-labelledby="shortcuts-title">
  <h2 id="shortcuts-title">Keyboard shortcuts</h2>
  <dl>${SHORTCUTS.map(([key, what]) => html`<dt><kbd>${key}</kbd></dt><dd>${what}</dd>`)}</dl>
  <form method="dialog"><button class="primary">Close</button></form>
</dialog>`;
}

/** The task page: portal chrome around the rendered worker template. */
export function taskPage(
  session: Session,
  task: OfferedTask,
  rendered: SafeHtml,
  status: { waiting: number; now: Date },
): string {
  const loop = encodeURIComponent(task.humanLoopName);
  return page(
    {
      title: task.title,
      session,
      bodyClass: "task-page",
      meta: html`<meta name="crowd-submit-url" content="/tasks/${loop}/submit">`,
    },
    html`<section class="task-head">
  <div>
    <h1>${task.title}</h1>
    <p class="muted">${task.description}</p>
  </div>
  <ul class="stats" aria-label="Progress">
    <li><strong data-testid="waiting">${status.waiting}</strong> more waiting</li>
    <li><strong>${session.answered}</strong> done this session</li>
    <li class="timer" data-held-until="${task.heldUntil.toISOString()}" data-now="${status.now.toISOString()}">
      <strong class="timer-value">${formatLeft(task.heldUntil.getTime() - status.now.getTime())}</strong> left
    </li>
  </ul>
</section>
<main class="task-body" id="task" data-human-loop="${task.humanLoopName}">
${rendered}
</main>
<footer class="task-actions">
  <form method="post" action="/tasks/${loop}/release" id="skip-form">
    ${csrfField(session)}
    <button class="secondary" title="Give this task back (s)">Skip <kbd>s</kbd></button>
  </form>
  <button type="button" class="link" id="show-shortcuts">Keyboard shortcuts <kbd>?</kbd></button>
</footer>
${shortcutsDialog()}`,
  );
}

export function previewPage(
  session: Session,
  values: { template: string; input: string },
  result?: { frameUrl?: string; error?: string },
): string {
  return page(
    { title: "Template preview", session, bodyClass: "wide" },
    html`<main class="preview">
  <section class="card">
    <h1>Template preview</h1>
    <p class="muted">Paste an A2I worker template and a sample <code>task.input</code>, then render it. Submitting the rendered form shows the <code>answerContent</code> A2I would store; nothing is sent to a queue.</p>
    <form method="post" action="/preview" class="stack">
      ${csrfField(session)}
      <label><span>Worker template (Liquid + crowd elements)</span>
        <textarea name="template" rows="14" spellcheck="false" required>${values.template}</textarea></label>
      <label><span>Sample input (JSON, becomes <code>task.input</code>)</span>
        <textarea name="input" rows="6" spellcheck="false" required>${values.input}</textarea></label>
      <button class="primary">Render</button>
    </form>
  </section>
  <section class="card">
    <h2>Rendered</h2>
    ${result?.error ? html`<p class="error" role="alert" data-testid="preview-error">${result.error}</p>` : html``}
    ${
      result?.frameUrl
        ? html`<iframe class="preview-frame" title="Rendered template" sandbox="allow-scripts allow-forms" src="${result.frameUrl}"></iframe>`
        : html`<p class="muted">Nothing rendered yet.</p>`
    }
    <h2>answerContent</h2>
    <pre id="answer-content" data-testid="answer-content" class="answer">Submit the rendered form to see it.</pre>
  </section>
</main>`,
  );
}

/** The document inside the preview iframe: the rendered template, in preview mode. */
export function previewFrame(rendered: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="crowd-mode" content="preview">
<link rel="stylesheet" href="/static/portal.css">
</head>
<body class="preview-body">
${rendered}
</body>
</html>`.value;
}
