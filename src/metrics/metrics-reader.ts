import type { Logger } from "../core/logger.js";
import type { ConnectionSource } from "../database/queryable.js";
import { status } from "../status/status.js";
import { type OutboxMetric, outboxMetrics } from "./outbox-metrics.js";

/**
 * Reads status() and turns it into metrics, for a collection or a scrape. One read at a time:
 * a call while one is in flight gets the same read, so the instruments of one collection (all
 * asked at once) and two scrapes that overlap cost one status() between them. A failed read
 * (the database down, the schema gone) resolves to undefined: reported as no samples rather
 * than thrown into a metrics SDK or a scrape that also carries other metrics. It is logged once
 * until the reason changes, and the recovery once, so a scrape every few seconds does not
 * repeat the same line.
 */
export function metricsReader(
  pool: ConnectionSource,
  schema: string,
  logger: Logger,
): () => Promise<OutboxMetric[] | undefined> {
  let reading: Promise<OutboxMetric[] | undefined> | undefined;
  let failing: string | undefined;
  const read = async (): Promise<OutboxMetric[] | undefined> => {
    try {
      const metrics = outboxMetrics(await status(pool, { schema }));
      if (failing !== undefined) logger.info?.("metrics: the outbox status can be read again", { schema });
      failing = undefined;
      return metrics;
    } catch (error) {
      const reason = (error as Error)?.message || String(error);
      if (reason !== failing) {
        logger.error?.("metrics: cannot read the outbox status; no outbox metrics until it can", {
          schema,
          err: error,
        });
      }
      failing = reason;
      return undefined;
    }
  };
  return () => {
    reading ??= read().finally(() => {
      reading = undefined;
    });
    return reading;
  };
}
