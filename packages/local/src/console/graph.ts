/**
 * The execution graph: the state machine's top-level states laid out by ELK (layered, top to
 * bottom, like the Step Functions console) and drawn as SVG on the server, each state coloured by
 * what the execution's history says happened to it.
 */
import type { ELK as Elk, ElkExtendedEdge, ElkNode } from "elkjs/lib/elk.bundled.js";
import { html, type SafeHtml } from "../portal/html";
import type { ExecutionStatus, HistoryEvent } from "../states/engine";

export type StateStatus = "succeeded" | "failed" | "in-progress" | "caught" | "aborted" | "not-run";

export const STATUS_LABELS: Record<StateStatus, string> = {
  succeeded: "Succeeded",
  failed: "Failed",
  "in-progress": "In progress",
  caught: "Caught error",
  aborted: "Aborted",
  "not-run": "Not run",
};

/** The definition could not be read as Amazon States Language. */
export class GraphDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GraphDefinitionError";
  }
}

interface StateLike {
  Type?: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: { Next?: string }[];
  Catch?: { Next?: string }[];
}

interface Transition {
  from: string;
  to: string;
  kind: "next" | "choice" | "catch";
}

const START = "__start";
const END = "__end";
const NODE_HEIGHT = 40;
const TERMINAL_SIZE = 28;
const CHAR_WIDTH = 7.4;

function readMachine(definition: string): { startAt: string; states: Record<string, StateLike> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(definition);
  } catch {
    throw new GraphDefinitionError("The state machine definition is not JSON.");
  }
  const machine = parsed as { StartAt?: unknown; States?: unknown };
  if (typeof machine.StartAt !== "string" || typeof machine.States !== "object" || machine.States === null) {
    throw new GraphDefinitionError("The state machine definition has no StartAt or States.");
  }
  return { startAt: machine.StartAt, states: machine.States as Record<string, StateLike> };
}

/** Every arrow of the top-level states: Next, Choice rules, Default, Catch, and the implicit ends. */
export function transitions(definition: string): { states: string[]; edges: Transition[] } {
  const { startAt, states } = readMachine(definition);
  const edges: Transition[] = [{ from: START, to: startAt, kind: "next" }];
  const seen = new Set<string>();
  const add = (edge: Transition) => {
    const id = `${edge.from}->${edge.to}`;
    if (seen.has(id) || !(edge.to in states || edge.to === END)) return;
    seen.add(id);
    edges.push(edge);
  };
  for (const [name, state] of Object.entries(states)) {
    if (state.Next) add({ from: name, to: state.Next, kind: "next" });
    for (const choice of state.Choices ?? [])
      if (choice.Next) add({ from: name, to: choice.Next, kind: "choice" });
    if (state.Default) add({ from: name, to: state.Default, kind: "choice" });
    for (const c of state.Catch ?? []) if (c.Next) add({ from: name, to: c.Next, kind: "catch" });
    if (state.End || state.Type === "Succeed" || state.Type === "Fail")
      add({ from: name, to: END, kind: "next" });
  }
  return { states: Object.keys(states), edges };
}

const TASK_SUCCESS = /Succeeded$/;
// TaskFailed, TaskTimedOut, LambdaFunctionStartFailed, TaskSubmitFailed, …
const TASK_FAILURE = /(Failed|TimedOut)$/;

/**
 * What happened to each top-level state, read from the history the way the Step Functions console
 * reads it: entered and not yet left is in progress; left after its last attempt failed is a
 * caught error; still current when the execution failed is the failure.
 */
export function stateStatuses(
  stateNames: readonly string[],
  events: readonly HistoryEvent[],
  executionStatus: ExecutionStatus,
): Map<string, StateStatus> {
  const known = new Set(stateNames);
  const result = new Map<string, StateStatus>(stateNames.map((name) => [name, "not-run"]));
  let current: string | undefined;
  let lastAttemptFailed = false;
  const leave = () => {
    if (current) result.set(current, lastAttemptFailed ? "caught" : "succeeded");
    current = undefined;
  };
  for (const event of events) {
    const entered = (event.stateEnteredEventDetails as { name?: string } | undefined)?.name;
    const exited = (event.stateExitedEventDetails as { name?: string } | undefined)?.name;
    if (entered !== undefined && known.has(entered)) {
      // A state left through Catch records no exit of its own on AWS; the next entry ends it.
      if (current && current !== entered) leave();
      current = entered;
      lastAttemptFailed = false;
      result.set(entered, "in-progress");
      continue;
    }
    if (exited !== undefined && known.has(exited)) {
      if (current === exited) leave();
      else result.set(exited, "succeeded");
      continue;
    }
    if (!current || event.type.startsWith("Execution") || event.type.startsWith("MapRun")) continue;
    if (TASK_FAILURE.test(event.type)) lastAttemptFailed = true;
    else if (TASK_SUCCESS.test(event.type)) lastAttemptFailed = false;
  }
  if (current && executionStatus !== "RUNNING") {
    const last: Record<Exclude<ExecutionStatus, "RUNNING">, StateStatus> = {
      SUCCEEDED: "succeeded",
      FAILED: "failed",
      TIMED_OUT: "failed",
      ABORTED: "aborted",
    };
    result.set(current, last[executionStatus]);
  }
  return result;
}

interface Laid {
  nodes: { id: string; x: number; y: number; width: number; height: number }[];
  edges: { id: string; kind: Transition["kind"]; points: { x: number; y: number }[] }[];
  width: number;
  height: number;
}

/**
 * ELK, loaded when the console first draws a graph: the bundled layout engine holds about 20 MB,
 * which a local cloud nobody opens the console of need not carry.
 */
let elk: Promise<Elk> | undefined;
function layoutEngine(): Promise<Elk> {
  elk ??= import("elkjs/lib/elk.bundled.js").then(({ default: ELK }) => new ELK());
  return elk;
}
const round = (v: number) => Math.round(v * 10) / 10;

async function layout(states: string[], edges: Transition[]): Promise<Laid> {
  const node = (id: string): ElkNode =>
    id === START || id === END
      ? { id, width: TERMINAL_SIZE, height: TERMINAL_SIZE }
      : { id, width: Math.max(120, Math.round(id.length * CHAR_WIDTH) + 36), height: NODE_HEIGHT };
  const graph: ElkNode = {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "DOWN",
      "elk.edgeRouting": "ORTHOGONAL",
      "elk.layered.spacing.nodeNodeBetweenLayers": "36",
      "elk.spacing.nodeNode": "28",
      "elk.padding": "[top=12,left=12,bottom=12,right=12]",
    },
    children: [node(START), ...states.map(node), node(END)],
    edges: edges.map(
      (edge, i): ElkExtendedEdge => ({ id: `e${i}`, sources: [edge.from], targets: [edge.to] }),
    ),
  };
  const out = await (await layoutEngine()).layout(graph);
  return {
    nodes: (out.children ?? []).map((n) => ({
      id: n.id,
      x: round(n.x ?? 0),
      y: round(n.y ?? 0),
      width: n.width ?? 0,
      height: n.height ?? 0,
    })),
    edges: (out.edges ?? []).map((e, i) => {
      const section = (e as ElkExtendedEdge).sections?.[0];
      const points = section ? [section.startPoint, ...(section.bendPoints ?? []), section.endPoint] : [];
      return {
        id: e.id,
        kind: edges[i]?.kind ?? "next",
        points: points.map((p) => ({ x: round(p.x), y: round(p.y) })),
      };
    }),
    width: out.width ?? 0,
    height: out.height ?? 0,
  };
}

/** Lays the state machine out with ELK and returns it as SVG, states coloured by status. */
export async function renderGraph(definition: string, statuses: Map<string, StateStatus>): Promise<SafeHtml> {
  const { states, edges } = transitions(definition);
  const laid = await layout(states, edges);
  const shapes = laid.nodes.map((n) => {
    if (n.id === START || n.id === END) {
      const cx = n.x + n.width / 2;
      const cy = n.y + n.height / 2;
      return html`<g class="terminal"><circle cx="${cx}" cy="${cy}" r="${n.width / 2}"/><text x="${cx}" y="${cy + 4}">${n.id === START ? "Start" : "End"}</text></g>`;
    }
    const status = statuses.get(n.id) ?? "not-run";
    return html`<g class="state ${status}" data-state="${n.id}" data-status="${status}"><title>${n.id}: ${STATUS_LABELS[status]}</title><rect x="${n.x}" y="${n.y}" width="${n.width}" height="${n.height}" rx="6"/><text x="${n.x + n.width / 2}" y="${n.y + n.height / 2 + 4}">${n.id}</text></g>`;
  });
  const lines = laid.edges
    .filter((e) => e.points.length > 1)
    .map(
      (e) =>
        html`<polyline class="edge ${e.kind}" marker-end="url(#arrow)" points="${e.points.map((p) => `${p.x},${p.y}`).join(" ")}"/>`,
    );
  const width = Math.ceil(laid.width);
  const height = Math.ceil(laid.height);
  return html`<svg class="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="State machine graph">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>
${lines}${shapes}</svg>`;
}
