/** Output helpers shared by the commands: tables for people, JSON for scripts. */
import { getBorderCharacters, table } from "table";

/** Renders rows under a header as a bordered table (the `table` package). */
export function renderTable(header: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [
    header,
    ...rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? "—" : String(cell)))),
  ];
  return table(cells, {
    border: getBorderCharacters("norc"),
    drawHorizontalLine: (line, count) => line === 0 || line === 1 || line === count,
    // Long keys and ARNs wrap instead of pushing the table off the screen.
    columnDefault: { wrapWord: false },
  }).trimEnd();
}

/** Writes a line to stdout. */
export function say(text = "") {
  process.stdout.write(`${text}\n`);
}

/** Writes a value as pretty JSON on stdout (what `--json` prints). */
export function printJson(value: unknown) {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A confidence or percentage with one decimal; absent stays absent (shown as —). */
export const oneDecimal = (value: number | null | undefined) =>
  value === null || value === undefined ? null : value.toFixed(1);
