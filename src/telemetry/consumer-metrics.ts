import type { Attributes } from "@opentelemetry/api";
import { poutboxAttributes } from "./attributes.js";
import { instruments } from "./instruments.js";
import type { ProcessTarget } from "./process-span.js";

/**
 * The consumer's own metrics that are no span: whether this process leads, outcome writes
 * that failed, maintenance runs. Each is a no-op without `@opentelemetry/api`.
 */
export class ConsumerMetrics {
  readonly #attributes: Attributes;
  #leading = false;

  constructor(target: ProcessTarget) {
    this.#attributes = { [poutboxAttributes.consumer]: target.name, [poutboxAttributes.schema]: target.schema };
  }

  /** This process took (true) or gave up (false) the consumer's leadership. */
  leading(now: boolean): void {
    if (now === this.#leading) return;
    this.#leading = now;
    instruments()?.leader.add(now ? 1 : -1, this.#attributes);
  }

  outcomeWriteFailed(): void {
    instruments()?.outcomeWriteFailures.add(1, this.#attributes);
  }

  maintenance(report: {
    readonly ran: boolean;
    readonly created: readonly unknown[];
    readonly dropped: readonly unknown[];
  }): void {
    const measure = instruments();
    if (!measure) return;
    measure.maintenanceRuns.add(1, {
      ...this.#attributes,
      "poutbox.maintenance.outcome": report.ran ? "ran" : "skipped",
    });
    if (report.created.length > 0) {
      measure.maintenancePartitions.add(report.created.length, {
        ...this.#attributes,
        "poutbox.maintenance.action": "created",
      });
    }
    if (report.dropped.length > 0) {
      measure.maintenancePartitions.add(report.dropped.length, {
        ...this.#attributes,
        "poutbox.maintenance.action": "dropped",
      });
    }
  }
}
