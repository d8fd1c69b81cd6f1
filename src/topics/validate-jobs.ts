import type { StandardSchemaV1 } from "@standard-schema/spec";
import { describeError } from "../core/describe-error.js";
import { PayloadValidationError } from "../core/errors.js";
import type { Job } from "../core/job.js";
import type { JobId } from "../core/job-id.js";
import { validatePayload } from "./validate-payload.js";

/** A batch after validation: the jobs for the handler, and why the others were refused. */
export interface ValidatedBatch {
  /** Jobs that passed, with the schema's output as payload. */
  readonly jobs: readonly Job[];
  /** Refused jobs and the error text to store with them in dead letter. */
  readonly rejected: ReadonlyMap<JobId, string>;
}

/**
 * Checks every job of a batch against its topic's schema. Nothing here throws: a job whose
 * topic is undeclared, whose payload fails, or whose schema itself throws is refused with a
 * message, so one bad job can neither crash the consumer nor hold up the others.
 */
export async function validateJobs(
  schemas: Readonly<Record<string, StandardSchemaV1>>,
  jobs: readonly Job[],
): Promise<ValidatedBatch> {
  const valid: Job[] = [];
  const rejected = new Map<JobId, string>();
  for (const job of jobs) {
    const schema = job.topic !== null && Object.hasOwn(schemas, job.topic) ? schemas[job.topic] : undefined;
    if (!schema) {
      const declared = Object.keys(schemas).map((topic) => JSON.stringify(topic));
      const topic = job.topic === null ? "no topic" : `topic ${JSON.stringify(job.topic)}`;
      rejected.set(job.id, `job has ${topic}, which is not among this consumer's topics (${declared.join(", ")})`);
      continue;
    }
    try {
      valid.push({ ...job, payload: await validatePayload(schema, job.topic as string, job.payload, "payload") });
    } catch (error) {
      rejected.set(
        job.id,
        error instanceof PayloadValidationError
          ? `${error.name}: ${error.message}`
          : `the schema of topic ${JSON.stringify(job.topic)} threw while validating: ${describeError(error)}`,
      );
    }
  }
  return { jobs: valid, rejected };
}
