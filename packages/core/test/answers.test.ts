import { describe, expect, it } from "vitest";
import {
  ANSWER_ELEMENT_NAME,
  Answer,
  InvalidOutputError,
  NONE_OF_THE_ABOVE,
  UnknownLabelError,
} from "../src/index";

const categories = ["AWS", "Amazon", NONE_OF_THE_ABOVE];

const inputContent = {
  taskObject: "s3://data-bucket/images_for_detection/a.png",
  categories,
  detectedLabel: "AWS",
  confidence: 42.5,
  modelVersionArn: null,
  reason: "low-confidence",
  taskToken: "token-1",
};

/** The 2021 recorded format: acceptanceTime, timeSpentInSeconds and workerMetadata present. */
const answer2021 = (label: string, workerId = "7fe4cd6b55282093") => ({
  acceptanceTime: "2021-02-17T19:20:52.563Z",
  answerContent: { [ANSWER_ELEMENT_NAME]: { label } },
  submissionTime: "2021-02-17T19:23:38.092Z",
  timeSpentInSeconds: 165.529,
  workerId,
  workerMetadata: {
    identityData: {
      identityProviderType: "Cognito",
      issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE",
      sub: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    },
  },
});

const output = (humanAnswers: unknown[]) => ({
  flowDefinitionArn: "arn:aws:sagemaker:us-east-1:111122223333:flow-definition/fd",
  humanAnswers,
  humanLoopName: "review-abc-0",
  inputContent,
});

describe("Answer.parseOutput", () => {
  it("reads the 2021 format with acceptance time and time spent", () => {
    // Arrange
    const text = JSON.stringify(output([answer2021("AWS")]));

    // Act
    const parsed = Answer.parseOutput(text);

    // Assert
    expect(parsed.humanLoopName).toBe("review-abc-0");
    expect(parsed.inputContent.taskToken).toBe("token-1");
    expect(parsed.answers).toEqual([
      {
        workerId: "7fe4cd6b55282093",
        label: "AWS",
        submissionTime: "2021-02-17T19:23:38.092Z",
        acceptanceTime: "2021-02-17T19:20:52.563Z",
        timeSpentInSeconds: 165.529,
      },
    ]);
  });

  it("reads the 2020 format without acceptance time or time spent", () => {
    // Arrange
    const text = JSON.stringify(
      output([
        {
          answerContent: { category: { label: "Amazon" } },
          submissionTime: "2020-09-22T17:08:37.840Z",
          workerId: "a4d8700afb91b37f",
        },
      ]),
    );

    // Act
    const parsed = Answer.parseOutput(text);

    // Assert
    expect(parsed.answers).toEqual([
      { workerId: "a4d8700afb91b37f", label: "Amazon", submissionTime: "2020-09-22T17:08:37.840Z" },
    ]);
  });

  it("reads a single pick from the multi-select form", () => {
    // Arrange
    const text = JSON.stringify(
      output([{ answerContent: { category: { labels: ["AWS"] } }, submissionTime: "t", workerId: "w" }]),
    );

    // Act
    const parsed = Answer.parseOutput(text);

    // Assert
    expect(parsed.answers[0]?.label).toBe("AWS");
  });

  it.each([
    ["text that is not JSON", "{not json"],
    ["no answers", JSON.stringify(output([]))],
    ["four answers", JSON.stringify(output([1, 2, 3, 4].map((i) => answer2021("AWS", `w${i}`))))],
    [
      "an answer without the category element",
      JSON.stringify(output([{ ...answer2021("AWS"), answerContent: {} }])),
    ],
    [
      "an answer without a worker id",
      JSON.stringify(output([{ ...answer2021("AWS"), workerId: undefined }])),
    ],
    [
      "two picks in the multi-select form",
      JSON.stringify(
        output([{ ...answer2021("AWS"), answerContent: { category: { labels: ["AWS", "Amazon"] } } }]),
      ),
    ],
    [
      "input content without the task token",
      JSON.stringify({ ...output([answer2021("AWS")]), inputContent: { taskObject: "s3://b/k" } }),
    ],
  ])("refuses output.json with %s", (_, text) => {
    // Arrange
    const input = text;

    // Act
    const parse = () => Answer.parseOutput(input);

    // Assert
    expect(parse).toThrow(InvalidOutputError);
  });
});

describe("Answer.consolidate", () => {
  it.each([
    [["AWS"], "labeled", "AWS"],
    [["AWS", "AWS"], "labeled", "AWS"],
    [["AWS", "Amazon", "AWS"], "labeled", "AWS"],
    [[NONE_OF_THE_ABOVE], "none-of-the-above", NONE_OF_THE_ABOVE],
    [[NONE_OF_THE_ABOVE, "AWS", NONE_OF_THE_ABOVE], "none-of-the-above", NONE_OF_THE_ABOVE],
  ])("consolidates %j into %s", (labels, outcome, label) => {
    // Arrange
    const answers = labels.map((l) => ({ label: l }));

    // Act
    const result = Answer.consolidate(answers, categories);

    // Assert
    expect(result.outcome).toBe(outcome);
    expect(result.label).toBe(label);
  });

  it.each([[["AWS", "Amazon"]], [["AWS", "Amazon", NONE_OF_THE_ABOVE]]])(
    "reports %j as a tie instead of picking one",
    (labels) => {
      // Arrange
      const answers = labels.map((l) => ({ label: l }));

      // Act
      const result = Answer.consolidate(answers, categories);

      // Assert
      expect(result.outcome).toBe("tie");
      expect(result.label).toBeNull();
      expect(result.votes.every((vote) => vote.count === 1)).toBe(true);
    },
  );

  it("counts the votes per label", () => {
    // Arrange
    const answers = [{ label: "AWS" }, { label: "Amazon" }, { label: "AWS" }];

    // Act
    const result = Answer.consolidate(answers, categories);

    // Assert
    expect(result.votes).toEqual([
      { label: "AWS", count: 2 },
      { label: "Amazon", count: 1 },
    ]);
  });

  it("refuses a label that was not offered", () => {
    // Arrange
    const answers = [{ label: "<script>alert(1)</script>" }];

    // Act
    const consolidate = () => Answer.consolidate(answers, categories);

    // Assert
    expect(consolidate).toThrow(UnknownLabelError);
  });

  it("refuses an empty answer list", () => {
    // Arrange
    const answers: { label: string }[] = [];

    // Act
    const consolidate = () => Answer.consolidate(answers, categories);

    // Assert
    expect(consolidate).toThrow(InvalidOutputError);
  });
});
