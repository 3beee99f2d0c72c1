/**
 * Step Functions' AWS SDK integrations (`arn:aws:states:::aws-sdk:<service>:<action>`) for the
 * local engine: each call goes through the real SDK v3 client to the local edge, as it would to AWS.
 */
/** The part of an SDK v3 client this module uses. */
interface SdkClient {
  send(command: unknown): Promise<unknown>;
}

interface ClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/** The services our workflows call directly: ASL service name → SDK package and client. */
const SERVICES: Record<string, { load: () => Promise<Record<string, unknown>>; client: string }> = {
  rekognition: {
    load: () => import("@aws-sdk/client-rekognition"),
    client: "RekognitionClient",
  },
  ssm: { load: () => import("@aws-sdk/client-ssm"), client: "SSMClient" },
  s3: { load: () => import("@aws-sdk/client-s3"), client: "S3Client" },
  sfn: { load: () => import("@aws-sdk/client-sfn"), client: "SFNClient" },
  sagemakera2iruntime: {
    load: () => import("@aws-sdk/client-sagemaker-a2i-runtime"),
    client: "SageMakerA2IRuntimeClient",
  },
};

export class UnsupportedIntegrationError extends Error {
  override name = "States.Runtime";
}

/** Returns the engine's `sdk(service, action, params)` hook, bound to the local edge. */
export function createSdkIntegration(config: () => ClientConfig) {
  const clients = new Map<string, SdkClient>();
  return async (service: string, action: string, params: unknown): Promise<unknown> => {
    const entry = SERVICES[service];
    if (!entry)
      throw new UnsupportedIntegrationError(`The local cloud has no aws-sdk integration for ${service}`);
    const module = await entry.load();
    const commandName = `${action.charAt(0).toUpperCase()}${action.slice(1)}Command`;
    const Command = module[commandName] as (new (input: unknown) => unknown) | undefined;
    if (!Command) throw new UnsupportedIntegrationError(`${service} has no action ${action}`);
    let client = clients.get(service);
    if (!client) {
      const Client = module[entry.client] as new (config: unknown) => SdkClient;
      client = new Client({ ...config(), ...(service === "s3" ? { forcePathStyle: true } : {}) });
      clients.set(service, client);
    }
    // Errors keep the SDK's name; the engine adds Step Functions' `<Service>.` prefix.
    const { $metadata: _metadata, ...output } = (await client.send(new Command(params))) as Record<
      string,
      unknown
    >;
    return JSON.parse(JSON.stringify(output));
  };
}
