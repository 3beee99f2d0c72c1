/**
 * A2I's worker-template dialect: Liquid with `task.input` as the variable root, HTML autoescape on
 * every output, and A2I's extra filters (`escape`, `escape_once`, `skip_autoescape`, `to_json`,
 * `grant_read_access`). The portal and RenderUiTemplate both render through here, so a template
 * written for AWS renders the same offline.
 */
import { Liquid } from "liquidjs";

/** A template that does not parse or render; `message` is the Liquid engine's own message. */
export class TemplateRenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TemplateRenderError";
  }
}

export interface RenderTaskTemplateOptions {
  /** Turns an `s3://bucket/key` URI into a URL the reviewer's browser can fetch (a local presign). */
  grantReadAccess: (s3Uri: string) => string;
}

// A runaway `{% for %}` in a worker template must not stall the local cloud.
const RENDER_LIMIT_MS = 5_000;

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** HTML-escapes `& < > " '` the way A2I does (`'` becomes `&#39;`). */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch);
}

/** Like escapeHtml, but leaves existing entities (`&amp;`, `&#39;`, `&#x27;`) alone. */
export function escapeHtmlOnce(value: string): string {
  return value.replace(
    /["<>']|&(?!(?:[a-zA-Z][a-zA-Z0-9]*|#\d+|#[xX][0-9a-fA-F]+);)/g,
    (ch) => HTML_ESCAPES[ch] ?? ch,
  );
}

// JSON that cannot close a <script> element or a single-quoted attribute, yet parses to the same
// value (the same protection Rails' to_json applies by default).
const JSON_HTML_SAFE: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "'": "\\u0027",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

function toJson(value: unknown): string {
  const text = JSON.stringify(value) ?? "null";
  return text.replace(/[<>&'\u2028\u2029]/g, (ch) => JSON_HTML_SAFE[ch] ?? ch);
}

function asText(value: unknown): string {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : String(value);
}

function createEngine(options: RenderTaskTemplateOptions): Liquid {
  const engine = new Liquid({
    outputEscape: (value: unknown) => escapeHtml(asText(value)),
    // An in-memory file system with no files: `{% include %}` / `{% render %}` can never read disk.
    templates: {},
    ownPropertyOnly: true,
    renderLimit: RENDER_LIMIT_MS,
  });
  // `raw: true` means "when this is the last filter, skip autoescape" — exactly A2I's rule for
  // these filters, which produce output that is already safe (or deliberately raw).
  engine.registerFilter("escape", { handler: (v: unknown) => escapeHtml(asText(v)), raw: true });
  engine.registerFilter("escape_once", { handler: (v: unknown) => escapeHtmlOnce(asText(v)), raw: true });
  engine.registerFilter("skip_autoescape", { handler: (v: unknown) => asText(v), raw: true });
  engine.registerFilter("to_json", { handler: (v: unknown) => toJson(v), raw: true });
  // The signed URL is escaped like any other output: `&amp;` in an attribute decodes back to `&`.
  engine.registerFilter("grant_read_access", (v: unknown) => {
    if (typeof v !== "string" || !v.startsWith("s3://")) {
      throw new TemplateRenderError(
        `grant_read_access expects an s3:// URI, got ${JSON.stringify(v) ?? "nothing"}`,
      );
    }
    return options.grantReadAccess(v);
  });
  return engine;
}

/** Throws TemplateRenderError when a worker template is not valid Liquid, before anyone renders it. */
export function checkTemplateSyntax(template: string): void {
  const engine = createEngine({
    grantReadAccess: () => {
      throw new TemplateRenderError("grant_read_access is not available while checking syntax");
    },
  });
  try {
    engine.parse(template);
  } catch (error) {
    throw new TemplateRenderError(error instanceof Error ? error.message : String(error));
  }
}

/** Renders an A2I worker task template with `task.input` bound to `input` (the parsed InputContent). */
export async function renderTaskTemplate(
  template: string,
  input: unknown,
  options: RenderTaskTemplateOptions,
): Promise<string> {
  const engine = createEngine(options);
  try {
    return await engine.parseAndRender(template, { task: { input } });
  } catch (error) {
    if (error instanceof TemplateRenderError) throw error;
    const cause = (error as { originalError?: unknown }).originalError;
    if (cause instanceof TemplateRenderError) throw cause;
    throw new TemplateRenderError(error instanceof Error ? error.message : String(error));
  }
}
