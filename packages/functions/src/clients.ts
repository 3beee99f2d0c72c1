/**
 * AWS SDK clients, one per service for the sandbox's lifetime, with default configuration so
 * region and `AWS_ENDPOINT_URL` come from the environment on AWS and in the local cloud alike.
 * `cacheMiddleware` resolves each command's middleware stack once per client instead of on every
 * call: these clients live as long as the sandbox and never change their middleware.
 */
import { RekognitionClient } from "@aws-sdk/client-rekognition";
import { S3Client } from "@aws-sdk/client-s3";
import { SageMakerA2IRuntimeClient } from "@aws-sdk/client-sagemaker-a2i-runtime";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SSMClient } from "@aws-sdk/client-ssm";

// The local cloud routes S3 by path (one host for every service), so path-style addressing is
// needed exactly when a custom endpoint is set; on AWS, virtual-hosted style stays the default.
export const s3 = new S3Client({
  forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL),
  cacheMiddleware: true,
});
export const rekognition = new RekognitionClient({ cacheMiddleware: true });
export const a2i = new SageMakerA2IRuntimeClient({ cacheMiddleware: true });
export const sfn = new SFNClient({ cacheMiddleware: true });
export const ssm = new SSMClient({ cacheMiddleware: true });
