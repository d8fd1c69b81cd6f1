import { InvalidOptionError } from "../core/errors.js";

/**
 * The topics a consumer receives: exact names, and patterns in which `*` stands for any run of
 * characters (`order.*` takes `order.created` and `order.line.added`). Jobs of other topics,
 * and jobs without a topic, pass the consumer by: not delivered, not dead-lettered, its
 * progress moves over them.
 */
export interface Subscription {
  /** The names and patterns as given. */
  readonly topics: readonly string[];
  /** The exact names, for the polling page query (`=` is cheaper than LIKE). */
  readonly names: readonly string[];
  /** The patterns as SQL LIKE patterns (backslash escapes), for the polling page query. */
  readonly likePatterns: readonly string[];
  /** Whether a job of `topic` is delivered. */
  matches(topic: string | null): boolean;
}

const maxTopicLength = 255;

/**
 * Checks and compiles a `subscribe` option (`option` names it in errors). `literal`: every
 * entry is a name, `*` included (a topic map's keys).
 */
export function subscription(topics: unknown, option = "subscribe", literal = false): Subscription {
  if (!Array.isArray(topics) || topics.length === 0) {
    throw new InvalidOptionError(option, "expected a non-empty array of topic names or patterns");
  }
  for (const topic of topics) {
    if (typeof topic !== "string" || topic.length === 0 || topic.length > maxTopicLength) {
      throw new InvalidOptionError(option, `expected topic names or patterns of 1 to ${maxTopicLength} characters`);
    }
  }
  const names = topics as string[];
  const isPattern = (topic: string) => !literal && isTopicPattern(topic);
  const exact = new Set(names.filter((topic) => !isPattern(topic)));
  const patterns = names.filter(isPattern);
  const matchers = patterns.map(patternRegExp);
  return {
    topics: Object.freeze([...names]),
    names: Object.freeze([...exact]),
    likePatterns: Object.freeze(patterns.map(likePattern)),
    matches: (topic) => topic !== null && (exact.has(topic) || matchers.some((pattern) => pattern.test(topic))),
  };
}

/** Whether `topic` is a pattern rather than one name. */
export function isTopicPattern(topic: string): boolean {
  return topic.includes("*");
}

function patternRegExp(pattern: string): RegExp {
  const parts = pattern.split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&"));
  return new RegExp(`^${parts.join(".*")}$`, "s");
}

function likePattern(topic: string): string {
  return topic.replace(/[\\%_]/g, "\\$&").replaceAll("*", "%");
}
