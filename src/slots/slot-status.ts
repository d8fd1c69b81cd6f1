import type { Queryable } from "../database/queryable.js";
import { resolveSchema } from "../schema/schema-name.js";
import { consumerSlot, type SlotState, slotState } from "./slot-admin.js";

/** One consumer of one schema, for the calls that inspect or remove it. */
export interface ConsumerSelection {
  /** Schema that holds the outbox tables. Default `"poutbox"`. */
  readonly schema?: string;
  /** The consumer name. Default `"default"`. */
  readonly consumer?: string;
}

/** A replication consumer's slot as the server sees it. */
export interface ReplicationSlotStatus extends SlotState {
  /** The slot's name (`poutbox_<schema>_<consumer>_<hash>`). */
  readonly name: string;
}

/**
 * The state of a consumer's replication slot, or undefined when it has none. Watch
 * `retainedBytes`: a slot keeps WAL for as long as its consumer is down or behind, until
 * max_slot_wal_keep_size (if set) invalidates it.
 */
export async function replicationSlotStatus(
  db: Queryable,
  selection: ConsumerSelection = {},
): Promise<ReplicationSlotStatus | undefined> {
  const { schema } = resolveSchema(selection.schema);
  const slot = await consumerSlot(db, schema, selection.consumer ?? "default");
  const state = await slotState(db, slot);
  return state && { name: slot, ...state };
}
