/** Writing one benchmark's section of docs/benchmarks.md without touching the others. */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO_ROOT } from "@secondlook/local/paths";

const FILE = join(REPO_ROOT, "docs", "benchmarks.md");

/** Replaces (or appends) the section between `<!-- bench:<id>:start -->` and its end marker. */
export async function replaceSection(id: string, title: string, body: string): Promise<void> {
  await mkdir(join(FILE, ".."), { recursive: true });
  let text: string;
  try {
    text = await readFile(FILE, "utf8");
  } catch {
    text =
      "# Benchmarks\n\nFigures written by `npm run bench`; each section belongs to one benchmark in `bench/`.\n";
  }
  const start = `<!-- bench:${id}:start -->`;
  const end = `<!-- bench:${id}:end -->`;
  const section = `${start}\n## ${title}\n\n${body}\n${end}`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  const next =
    from >= 0 && to > from
      ? `${text.slice(0, from)}${section}${text.slice(to + end.length)}`
      : `${text.trimEnd()}\n\n${section}\n`;
  await writeFile(FILE, next);
}
