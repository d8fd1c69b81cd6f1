import type { Scenario } from "../run.js";
import {
  lockConnectionKilled,
  sigkillMidBatch,
  sigtermLongGrace,
  sigtermShortGrace,
  splitTransaction,
  standbysAndPauses,
} from "./crashes.js";
import { blockingHandler, floatingRejection, handlerResults, hangingHandler, slowHandler } from "./handlers.js";
import { hugePayloads, hugeTransaction, longTransactions, maintenanceRace } from "./load.js";
import {
  enqueueAtomicity,
  networkPartition,
  serverRestartFast,
  serverRestartImmediate,
  terminateEachConnection,
} from "./network.js";
import { orderedKeys } from "./ordering.js";
import { relayFaults } from "./relays.js";
import { roleWithoutReplication, slotDropped, slotInvalidated, slotsExhausted, walLevelReplica } from "./slots.js";

/** In the order of the issue that asked for them (numbers in each scenario's comment). */
export const scenarios: readonly Scenario[] = [
  sigkillMidBatch,
  splitTransaction,
  terminateEachConnection,
  networkPartition,
  serverRestartFast,
  serverRestartImmediate,
  slowHandler,
  blockingHandler,
  hangingHandler,
  sigtermShortGrace,
  sigtermLongGrace,
  standbysAndPauses,
  lockConnectionKilled,
  longTransactions,
  slotDropped,
  slotInvalidated,
  slotsExhausted,
  roleWithoutReplication,
  walLevelReplica,
  maintenanceRace,
  hugeTransaction,
  hugePayloads,
  handlerResults,
  floatingRejection,
  enqueueAtomicity,
  orderedKeys,
  ...relayFaults,
];
