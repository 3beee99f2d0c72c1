/**
 * Which `${Placeholder}` each workflow file may use. The stacks substitute exactly these keys and
 * the static ASL test checks every placeholder in a file is one of them, so a typo in either place
 * fails a test instead of a deployment.
 */
import { type FunctionKey, Functions, OtherSubstitutions, StateMachines } from "@secondlook/core/blueprint";

/**
 * The train-model workflow and its one Lambda. Not yet in the blueprint (which the local cloud
 * also reads); move them there when the local engine runs train-model.
 */
export const TrainModel = {
  file: "train-model.asl.json",
  name: "train-model",
  buildTrainingManifest: {
    handler: "build-training-manifest",
    substitution: "BuildTrainingManifestFunctionArn",
  },
  /** Placeholders that are not function ARNs. */
  substitutions: {
    projectArn: "ProjectArn",
    bucketName: "BucketName",
    modelOutputPrefix: "ModelOutputPrefix",
    activeModelVersionParameterName: "ActiveModelVersionParameterName",
  },
} as const;

/** The review-image functions that a placeholder names, with that placeholder. */
export const reviewImageFunctionSubstitutions = (Object.keys(Functions) as FunctionKey[]).flatMap((key) => {
  const substitution = Functions[key].substitution;
  return substitution === null ? [] : [{ key, substitution }];
});

/** Placeholder names per workflow file under statemachines/. */
export const DefinitionSubstitutionKeys: Record<string, readonly string[]> = {
  [StateMachines.reviewImage.file]: [
    ...reviewImageFunctionSubstitutions.map(({ substitution }) => substitution),
    OtherSubstitutions.trainModelStateMachineArn,
  ],
  [TrainModel.file]: [
    TrainModel.buildTrainingManifest.substitution,
    ...Object.values(TrainModel.substitutions),
  ],
};
