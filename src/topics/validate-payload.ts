import type { StandardSchemaV1 } from "@standard-schema/spec";
import { InvalidOptionError, PayloadValidationError, type ValidationIssue } from "../core/errors.js";
import { formatPath } from "../core/payload-path.js";

/** The schema a client or consumer with a topic map applies to `topic`'s payloads. */
export function schemaFor(
  schemas: Readonly<Record<string, StandardSchemaV1>>,
  topic: string | null | undefined,
): StandardSchemaV1 {
  const declared = Object.keys(schemas);
  if (topic === undefined || topic === null) {
    throw new InvalidOptionError("topic", `required with topics; one of ${declared.map(quote).join(", ")}`);
  }
  const schema = Object.hasOwn(schemas, topic) ? schemas[topic] : undefined;
  if (!schema) {
    throw new InvalidOptionError(
      "topic",
      `${quote(topic)} is not a declared topic (${declared.map(quote).join(", ")})`,
    );
  }
  return schema;
}

/**
 * Runs a Standard Schema on a payload. Resolves with the schema's output, or rejects with a
 * PayloadValidationError listing every issue with its path (`payload.items[2].price`).
 */
export async function validatePayload(
  schema: StandardSchemaV1,
  topic: string,
  payload: unknown,
  root: string,
): Promise<unknown> {
  const result = await schema["~standard"].validate(payload);
  if (!result.issues) return result.value;
  const issues: ValidationIssue[] = result.issues.map((issue) => ({
    message: issue.message,
    path: formatPath(
      root,
      (issue.path ?? []).map((segment) => {
        const key = typeof segment === "object" && segment !== null ? segment.key : segment;
        return typeof key === "number" ? key : String(key);
      }),
    ),
  }));
  throw new PayloadValidationError(topic, issues);
}

function quote(text: string): string {
  return JSON.stringify(text);
}
