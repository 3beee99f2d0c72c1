/**
 * Which `${Placeholder}` each workflow file may use. The stacks substitute exactly these keys and
 * the static ASL test checks every placeholder in a file is one of them, so a typo in either place
 * fails a test instead of a deployment.
 */
import { Functions, functionKeysOf, OtherSubstitutions, StateMachines } from "@secondlook/core/blueprint";

/** The train-model workflow, its one Lambda and its other placeholders, as the blueprint declares them. */
export const TrainModel = {
  ...StateMachines.trainModel,
  buildTrainingManifest: Functions.buildTrainingManifest,
  /** Placeholders that are not function ARNs. */
  substitutions: {
    projectArn: OtherSubstitutions.projectArn,
    bucketName: OtherSubstitutions.bucketName,
    modelOutputPrefix: OtherSubstitutions.modelOutputPrefix,
    activeModelVersionParameterName: OtherSubstitutions.activeModelVersionParameterName,
  },
} as const;

/** The review-image functions that a placeholder names, with that placeholder. */
export const reviewImageFunctionSubstitutions = functionKeysOf("review").flatMap((key) => {
  const substitution = Functions[key].substitution;
  return substitution === null ? [] : [{ key, substitution }];
});

/** Placeholder names per workflow file under statemachines/. */
export const DefinitionSubstitutionKeys: Record<string, readonly string[]> = {
  [StateMachines.reviewImage.file]: [
    ...reviewImageFunctionSubstitutions.map(({ substitution }) => substitution),
    OtherSubstitutions.trainModelStateMachineArn,
  ],
  [StateMachines.reviewBatch.file]: [OtherSubstitutions.reviewImageStateMachineArn],
  [TrainModel.file]: [
    TrainModel.buildTrainingManifest.substitution,
    ...Object.values(TrainModel.substitutions),
  ],
};
