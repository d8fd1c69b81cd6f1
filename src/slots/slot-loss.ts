import type { SlotState } from "./slot-admin.js";

/** Why a consumer cannot resume from its slot: `dropped`, or the server's invalidation reason. */
export function slotLossReason(state: SlotState | undefined): string | null {
  return state ? state.invalidationReason : "dropped";
}

/** What a slot loss reason means, in words, for logs and errors ("replication slot X ..."). */
export function slotLossText(reason: string): string {
  switch (reason) {
    case "dropped":
      return "does not exist (dropped?)";
    case "wal_removed":
      return "was invalidated by the server: the WAL it kept passed max_slot_wal_keep_size (wal_removed)";
    case "idle_timeout":
      return "was invalidated by the server: it was unused for longer than idle_replication_slot_timeout (idle_timeout)";
    case "rows_removed":
      return "was invalidated by the server: rows it still needed were removed (rows_removed)";
    case "wal_level_insufficient":
      return "was invalidated by the server: wal_level is below logical (wal_level_insufficient)";
    default:
      return `was invalidated by the server (${reason})`;
  }
}
