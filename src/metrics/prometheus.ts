/**
 * `poutbox/prometheus`: the outbox's figures as Prometheus gauges, with prom-client (an
 * optional peer dependency), and a Fetch API handler that serves them.
 *
 * @example
 * ```ts
 * import { prometheusHandler } from "poutbox/prometheus";
 *
 * const metrics = prometheusHandler(pool, { schema: "poutbox" });
 * // With any server that speaks Request and Response (Hono, Bun, Deno, Next.js route handlers...):
 * app.get("/metrics", (c) => metrics(c.req.raw));
 * ```
 *
 * @module
 */
import { Gauge, Registry } from "prom-client";
import { InvalidOptionError } from "../core/errors.js";
import { asLogger, defaultLogger, type Logger } from "../core/logger.js";
import type { ConnectionSource } from "../database/queryable.js";
import { resolveSchema } from "../schema/schema-name.js";
import { metricsReader } from "./metrics-reader.js";
import { outboxMetricDescriptors } from "./outbox-metrics.js";
import { prometheusLabel, prometheusName, prometheusPrefixPattern } from "./prometheus-names.js";

export type { MetricSample, OutboxMetric, OutboxMetricDescriptor } from "./outbox-metrics.js";
export { outboxMetricDescriptors, outboxMetrics } from "./outbox-metrics.js";
export { prometheusLabel, prometheusName } from "./prometheus-names.js";

export interface PrometheusMetricsOptions {
  /** Schema that holds the outbox tables. Default `"poutbox"`. */
  readonly schema?: string;
  /**
   * Where the gauges are registered. Default: a new Registry, returned. Pass prom-client's
   * `register` to serve them with the application's own metrics.
   */
  readonly registry?: Registry;
  /**
   * Put before every metric name, e.g. `"myapp_"`. Default none (`poutbox_...`). Needed to
   * register the metrics of a second schema in the same registry, whose names would clash.
   */
  readonly prefix?: string;
  /** Where a failed read is reported. Default `consoleLogger("warn")`. */
  readonly logger?: Logger;
}

/**
 * Registers one prom-client Gauge per metric of outboxMetrics(), named the Prometheus way
 * (`poutbox_consumer_pending_jobs`, `poutbox_consumer_lag_seconds`,
 * `poutbox_consumer_slot_retained_wal_bytes`...) with the labels `poutbox_schema`,
 * `poutbox_consumer` and `poutbox_slot_wal_status`. Each scrape reads status() once, shared by
 * every gauge; nothing is read between scrapes. A read that fails (the database down) is logged
 * and leaves the gauges without values for that scrape, so the rest of the registry is still
 * served.
 *
 * @returns the registry the gauges are in.
 * @throws {InvalidOptionError} for a bad schema name, prefix or registry, or when the registry
 *   already holds gauges of these names (give each schema its own prefix or registry).
 * @example
 * ```ts
 * import { register } from "prom-client";
 * import { prometheusMetrics } from "poutbox/prometheus";
 *
 * prometheusMetrics(pool, { registry: register });
 * // ...then serve `await register.metrics()` as usual.
 * ```
 */
export function prometheusMetrics(pool: ConnectionSource, options: PrometheusMetricsOptions = {}): Registry {
  const { schema } = resolveSchema(options.schema);
  const prefix = options.prefix ?? "";
  if (typeof prefix !== "string" || !prometheusPrefixPattern.test(prefix)) {
    throw new InvalidOptionError(
      "prefix",
      `expected letters, digits, underscores and colons, not starting with a digit, got ${JSON.stringify(prefix)}`,
    );
  }
  const registry = options.registry ?? new Registry();
  if (typeof registry?.metrics !== "function" || typeof registry.getSingleMetric !== "function") {
    throw new InvalidOptionError("registry", "expected a prom-client Registry");
  }
  const names = outboxMetricDescriptors.map((each) => prometheusName(each, prefix));
  const taken = names.filter((name) => registry.getSingleMetric(name) !== undefined);
  if (taken.length > 0) {
    throw new InvalidOptionError(
      "registry",
      `it already holds ${taken[0]}${taken.length > 1 ? ` and ${taken.length - 1} more` : ""}: ` +
        "give each schema its own prefix or registry",
    );
  }
  const read = metricsReader(pool, schema, asLogger(options.logger ?? defaultLogger));
  outboxMetricDescriptors.forEach((descriptor, index) => {
    const gauge: Gauge = new Gauge({
      name: names[index] as string,
      help: `${descriptor.description} (${descriptor.unit})`,
      labelNames: descriptor.attributes.map(prometheusLabel),
      registers: [registry],
      // prom-client asks every gauge at once: they share the one read in flight.
      collect: async () => {
        const metric = (await read())?.find((each) => each.name === descriptor.name);
        // A consumer removed, or a slot that changed status, must not linger: only this read's samples.
        gauge.reset();
        for (const sample of metric?.samples ?? []) gauge.set(labels(sample.attributes), sample.value);
      },
    });
  });
  return registry;
}

function labels(attributes: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(attributes).map(([name, value]) => [prometheusLabel(name), value]));
}

/** A Fetch API handler: a Request in, a Response out. */
export type MetricsHandler = (request: Request) => Promise<Response>;

/**
 * A handler that answers a GET with the registry's metrics in Prometheus's text format (the
 * registry's content type), after prometheusMetrics() registered the outbox's gauges in it;
 * any other method gets 405. It answers whatever path it is given: route `/metrics` to it. A
 * registry that cannot be collected (another metric in it threw) gets 500, and is logged.
 *
 * @throws {InvalidOptionError} as prometheusMetrics() does.
 * @example
 * ```ts
 * import { prometheusHandler } from "poutbox/prometheus";
 *
 * const metrics = prometheusHandler(pool);
 * Bun.serve({ port: 9464, fetch: (request) => metrics(request) });
 * ```
 */
export function prometheusHandler(pool: ConnectionSource, options: PrometheusMetricsOptions = {}): MetricsHandler {
  const registry = prometheusMetrics(pool, options);
  const logger = asLogger(options.logger ?? defaultLogger);
  return async (request) => {
    if (request.method !== "GET") {
      return new Response("only GET is served here\n", {
        status: 405,
        headers: { allow: "GET", "content-type": "text/plain; charset=utf-8" },
      });
    }
    try {
      return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
    } catch (error) {
      logger.error?.("metrics: the registry could not be collected", { err: error });
      return new Response("the metrics could not be collected\n", {
        status: 500,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
  };
}
