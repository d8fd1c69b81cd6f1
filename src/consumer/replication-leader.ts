import { publicationName } from "../schema/server-names.js";
import { checkLogicalReplication, consumerSlot, ensurePublication } from "../slots/slot-admin.js";
import type { ReplicatedBatch } from "../sources/replication-source.js";
import { type BatchLoopContext, runBatches } from "./batch-loop.js";
import { keyOrderFor } from "./key-order.js";
import { perJobRunOf } from "./per-job.js";
import type { LeaderTerm } from "./polling-leader.js";
import { catchUp } from "./replication-catch-up.js";
import { type ReplicationClaim, resumePoint } from "./replication-resume-point.js";
import { reportSlot } from "./replication-slot-report.js";
import { openStream } from "./replication-stream.js";
import { StreamedBatches } from "./replication-streamed-batches.js";
import { closeReplication } from "./replication-walsender.js";
import { runScheduledBatches } from "./scheduled-batch-loop.js";

export type { ReplicationClaim };

/**
 * One term as leader of a replication consumer: make sure the publication and slot exist,
 * catch up by polling with what the slot cannot see (jobs committed before it was created),
 * then stream from the slot, committing each batch's outcome and acknowledging exactly what
 * is done.
 */
export async function leadReplication(term: LeaderTerm, claim: ReplicationClaim): Promise<void> {
  const { pool, options } = term;
  const slot = await consumerSlot(pool, options.schema, options.name);
  const publication = publicationName(options.schema);
  await checkLogicalReplication(pool);
  await ensurePublication(pool, options.quotedSchema, publication);

  const resume = await resumePoint(term, claim, slot);
  if (await catchUp(term, resume.catchUp)) return;

  const stream = await openStream(term, slot, publication, resume.from);
  const stopping = AbortSignal.any([term.stopping, stream.failed]);
  const batches = new StreamedBatches(term, stream, resume.from, stopping);
  const stopReports = reportSlot(term, slot);
  try {
    const perJob = perJobRunOf(term.handler);
    const keyOrder = keyOrderFor<ReplicatedBatch>(term, perJob !== undefined);
    const context: BatchLoopContext = {
      handler: term.handler,
      options,
      stopping,
      abandon: term.abandon,
      onBatch: term.events.batch,
    };
    await (keyOrder ? runScheduledBatches(context, batches, keyOrder, perJob) : runBatches(context, batches));
    if (stream.failed.aborted && !term.stopping.aborted) throw stream.failed.reason;
  } finally {
    stopReports();
    await closeReplication(term, stream.connection, slot);
    await stream.ended;
  }
}
