/**
 * Reviewers' answers: reading A2I's output.json (aws-contracts.md §2.2) and consolidating the
 * 1..3 answers of one loop into one outcome.
 */
import { z } from "zod";
import { NONE_OF_THE_ABOVE } from "./blueprint";
import { InvalidOutputError, UnknownLabelError } from "./errors";
import { InputContentSchema } from "./human-loop";
import { parseJsonText, parseWith } from "./validation";

/** The `name` of the template's crowd-image-classifier: answers arrive as `{"category":{"label":…}}`. */
export const ANSWER_ELEMENT_NAME = "category";
/** A2I's TaskCount ceiling. */
export const MAX_ANSWERS = 3;

const ClassifierAnswer = z.union([
  z.object({ label: z.string().min(1) }),
  // The multi-select form; accepted when exactly one label was picked.
  z.object({ labels: z.array(z.string().min(1)).length(1, "exactly one label must be picked") }),
]);

const HumanAnswerSchema = z.looseObject({
  answerContent: z.looseObject({ [ANSWER_ELEMENT_NAME]: ClassifierAnswer }),
  submissionTime: z.string().min(1),
  workerId: z.string().min(1),
  // Absent from some real outputs (2020), present in later ones.
  acceptanceTime: z.string().optional(),
  timeSpentInSeconds: z.number().min(0).optional(),
});

export const HumanLoopOutputSchema = z.looseObject({
  flowDefinitionArn: z.string().min(1),
  humanLoopName: z.string().min(1),
  humanAnswers: z.array(HumanAnswerSchema).min(1).max(MAX_ANSWERS),
  inputContent: InputContentSchema.loose(),
});

/** One reviewer's answer, flattened. */
export const AnswerSchema = z.object({
  workerId: z.string(),
  label: z.string(),
  submissionTime: z.string(),
  acceptanceTime: z.string().optional(),
  timeSpentInSeconds: z.number().optional(),
});
export type Answer = z.infer<typeof AnswerSchema>;

export interface HumanLoopOutput {
  flowDefinitionArn: string;
  humanLoopName: string;
  inputContent: z.infer<typeof InputContentSchema>;
  answers: Answer[];
}

/** Parses output.json text (or an already-parsed object) into its answers and the loop's input. */
function parseOutput(json: string | unknown): HumanLoopOutput {
  const value = typeof json === "string" ? parseJsonText(json, InvalidOutputError, "output.json") : json;
  const output = parseWith(
    HumanLoopOutputSchema,
    value,
    InvalidOutputError,
    "Invalid human loop output.json",
  );
  const answers = output.humanAnswers.map((answer): Answer => {
    const picked = answer.answerContent[ANSWER_ELEMENT_NAME];
    const label = "label" in picked ? picked.label : (picked.labels[0] as string);
    return {
      workerId: answer.workerId,
      label,
      submissionTime: answer.submissionTime,
      ...(answer.acceptanceTime !== undefined ? { acceptanceTime: answer.acceptanceTime } : {}),
      ...(answer.timeSpentInSeconds !== undefined ? { timeSpentInSeconds: answer.timeSpentInSeconds } : {}),
    };
  });
  const { taskObject, categories, detectedLabel, confidence, modelVersionArn, reason, taskToken } =
    output.inputContent;
  return {
    flowDefinitionArn: output.flowDefinitionArn,
    humanLoopName: output.humanLoopName,
    inputContent: { taskObject, categories, detectedLabel, confidence, modelVersionArn, reason, taskToken },
    answers,
  };
}

export const ConsolidationSchema = z.object({
  outcome: z.enum(["labeled", "none-of-the-above", "tie"]),
  /** The winning label; null for a tie. */
  label: z.string().nullable(),
  votes: z.array(z.object({ label: z.string(), count: z.number().int().min(1) })),
});
export type Consolidation = z.infer<typeof ConsolidationSchema>;

/**
 * Consolidates 1..3 answers by plurality. A tie is its own outcome (never an arbitrary pick), and
 * an answer outside the offered categories is refused rather than becoming training data.
 */
function consolidate(answers: Pick<Answer, "label">[], categories: readonly string[]): Consolidation {
  if (answers.length === 0 || answers.length > MAX_ANSWERS) {
    throw new InvalidOutputError(`Expected 1..${MAX_ANSWERS} answers, got ${answers.length}`);
  }
  const offered = new Set(categories);
  const counts = new Map<string, number>();
  for (const { label } of answers) {
    if (!offered.has(label)) {
      throw new UnknownLabelError(`Answer ${JSON.stringify(label)} is not one of the offered categories`);
    }
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  const votes = [...counts.entries()]
    .map(([label, count]) => ({ label, count }))
    .sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));
  const [first, second] = votes;
  if (!first || (second && second.count === first.count)) return { outcome: "tie", label: null, votes };
  const outcome = first.label === NONE_OF_THE_ABOVE ? "none-of-the-above" : "labeled";
  return { outcome, label: first.label, votes };
}

/** What on-human-loop-status sends with SendTaskSuccess: StartHumanReview's result (`$.review`). */
export const ReviewSchema = ConsolidationSchema.extend({
  loopName: z.string().min(1),
  answers: z.array(AnswerSchema),
  outputUri: z.string().startsWith("s3://"),
});
export type Review = z.infer<typeof ReviewSchema>;

export const Answer = { schema: AnswerSchema, parseOutput, consolidate };
