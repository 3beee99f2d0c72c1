import { Logger } from "@aws-lambda-powertools/logger";

/** The handlers' structured logger. */
export const logger = new Logger({ serviceName: "secondlook" });
