import type { HandlerContext, HandlerResult } from "../core/job.js";
import type { JobOf } from "../topics/topics.js";

/**
 * Processes a batch. Resolve with nothing when every job succeeded, or with the jobs that
 * failed; a throw (or rejection) fails the whole batch with that error. `Payload` is the
 * payload type, or a topic map from defineTopics (the jobs are then a union by topic).
 */
export type Handler<Payload = unknown> = (
  jobs: readonly JobOf<Payload>[],
  context: HandlerContext,
) => Promise<HandlerResult>;
