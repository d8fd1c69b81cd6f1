import type { StandardSchemaV1 } from "@standard-schema/spec";
import { InvalidOptionError } from "../core/errors.js";
import type { Job } from "../core/job.js";

// Type-level only: no Topics value ever has this property. It carries the payload types and
// keeps a plain payload type from being mistaken for a topic map.
declare const topicTypes: unique symbol;

/**
 * A map from topic to payload type, declared once with {@link defineTopics} and given to both
 * the `Client` (enqueue is checked against it) and the `Consumer` (the handler gets jobs whose
 * payload type follows their topic). `Inputs` is what enqueue accepts, `Outputs` what handlers
 * receive: the same unless a schema transforms its value.
 */
export interface Topics<Inputs extends object = Record<string, unknown>, Outputs extends object = Inputs> {
  /** The schema of each topic, or undefined when the map was declared by its types alone. */
  readonly schemas: Readonly<Record<string, StandardSchemaV1>> | undefined;
  readonly [topicTypes]: { readonly inputs: Inputs; readonly outputs: Outputs };
}

/** Any topic map. */
// biome-ignore lint/suspicious/noExplicitAny: matches every map whatever its payload types.
export type AnyTopics = Topics<any, any>;

/**
 * Whether a client's or consumer's type parameter is a topic map. `any` is not: a
 * `Client<any>` keeps accepting any payload with optional options, as it always did.
 */
export type IsTopics<Spec> = 0 extends 1 & Spec ? false : [Spec] extends [AnyTopics] ? true : false;

/** Topic names: those of the map, or any string for a client or consumer without one. */
export type TopicName<Spec> =
  IsTopics<Spec> extends true ? (Spec extends Topics<infer Inputs, object> ? keyof Inputs & string : never) : string;

/** What enqueue accepts for `Topic`: the map's input type, or the one payload type. */
export type TopicInput<Spec, Topic extends string> =
  IsTopics<Spec> extends true
    ? Spec extends Topics<infer Inputs, object>
      ? Inputs[Topic & keyof Inputs]
      : never
    : Spec;

/**
 * The jobs a handler receives: without a map, `Job<Payload>`; with one, a union with one
 * member per topic, so that checking `job.topic` narrows `job.payload`.
 */
export type JobOf<Spec> =
  IsTopics<Spec> extends true
    ? Spec extends Topics<object, infer Outputs>
      ? { [Topic in keyof Outputs & string]: Job<Outputs[Topic], Topic> }[keyof Outputs & string]
      : never
    : Job<Spec>;

/** Per topic, the input type of its schema: what `enqueue` accepts. */
export type InputsOf<Schemas extends Record<string, StandardSchemaV1>> = {
  [Topic in keyof Schemas]: StandardSchemaV1.InferInput<Schemas[Topic]>;
};
/** Per topic, the output type of its schema: what the handler receives. */
export type OutputsOf<Schemas extends Record<string, StandardSchemaV1>> = {
  [Topic in keyof Schemas]: StandardSchemaV1.InferOutput<Schemas[Topic]>;
};

const defined = new WeakSet<object>();
const maxTopicLength = 255;

/**
 * Declares the topics of an outbox and the payload each carries, once, for producers and
 * consumers alike. Either by types alone, checked at compile time only:
 *
 * ```ts
 * const topics = defineTopics<{ "order.created": { orderId: number } }>();
 * ```
 *
 * or by a Standard Schema per topic (zod, valibot, arktype...), which also checks payloads at
 * run time: enqueue refuses a payload that fails its schema, and a consumer sends a job whose
 * payload (or topic) does not fit straight to dead letter instead of calling the handler.
 *
 * ```ts
 * const topics = defineTopics({ "order.created": z.object({ orderId: z.number() }) });
 * const outbox = new Client(pool, { topics });
 * await outbox.enqueue({ orderId: 1 }, { tx, topic: "order.created" });
 * ```
 */
export function defineTopics<Inputs extends object>(): Topics<Inputs>;
export function defineTopics<const Schemas extends Record<string, StandardSchemaV1>>(
  schemas: Schemas,
): Topics<InputsOf<Schemas>, OutputsOf<Schemas>>;
export function defineTopics(schemas?: Record<string, StandardSchemaV1>): AnyTopics {
  if (schemas !== undefined) checkSchemas(schemas);
  const topics = Object.freeze({ schemas: schemas === undefined ? undefined : Object.freeze({ ...schemas }) });
  defined.add(topics);
  return topics as unknown as AnyTopics;
}

/** Refuses a `topics` option that did not come from defineTopics. */
export function checkTopics(value: unknown): AnyTopics | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== "object" || !defined.has(value)) {
    throw new InvalidOptionError("topics", "expected the result of defineTopics()");
  }
  return value as AnyTopics;
}

function checkSchemas(schemas: unknown): void {
  if (schemas === null || typeof schemas !== "object" || Array.isArray(schemas)) {
    throw new InvalidOptionError("topics", "expected an object of schemas, one per topic");
  }
  for (const [topic, schema] of Object.entries(schemas)) {
    if (topic.length === 0 || topic.length > maxTopicLength) {
      throw new InvalidOptionError("topics", `topic names must be 1 to ${maxTopicLength} characters`);
    }
    const standard = (schema as Partial<StandardSchemaV1> | null)?.["~standard"];
    if (standard?.version !== 1 || typeof standard.validate !== "function") {
      throw new InvalidOptionError(
        `topics.${topic}`,
        "expected a Standard Schema v1 (a zod, valibot or arktype schema, for example)",
      );
    }
  }
}
