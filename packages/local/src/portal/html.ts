/**
 * The portal's own pages are built with one tagged template that escapes every interpolation, so
 * no reviewer-controlled text can ever become markup. Only values wrapped by `trusted` (our own
 * markup, or a worker template already rendered by the A2I Liquid dialect) pass through unchanged.
 */
import { escapeHtml } from "../a2i/template";

/** Markup that is known to be safe to insert as-is. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Interpolation = SafeHtml | string | number | boolean | null | undefined | readonly Interpolation[];

function render(value: Interpolation): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

/** Builds markup from a template literal, HTML-escaping every interpolated value. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? "");
  });
  return new SafeHtml(out);
}

/** Marks markup as safe; only for our own constants or an already-escaped rendering. */
export function trusted(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
