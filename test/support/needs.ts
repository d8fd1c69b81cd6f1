/**
 * What some tests need of the server beyond a database of their own. test/run.ts checks each
 * one before the run and passes what the server lacks, with the reason, in
 * POUTBOX_TEST_LACKING; a test or suite tagged with needs() is then skipped with that reason
 * instead of failing. Run without test/run.ts, nothing is skipped.
 */
export const capabilities = {
  /** wal_level = logical, slots and walsenders to spare, and a role with REPLICATION. */
  "logical-replication": "logical replication",
  /** The pg_replication_origin_* functions (superuser, or EXECUTE granted on them). */
  "replication-origins": "replication origins",
  /** max_prepared_transactions > 0. */
  "prepared-transactions": "prepared transactions",
} as const;

export type Capability = keyof typeof capabilities;

/** Capability -> why the server lacks it, as test/run.ts found it. */
export type Lacking = Partial<Record<Capability, string>>;

export const lackingVariable = "POUTBOX_TEST_LACKING";

/**
 * Options for `it` or `describe` that skip it when the server lacks one of `wanted`:
 * `it("streams", needs("logical-replication"), async () => ...)`, or spread with other options.
 */
export function needs(...wanted: Capability[]): { skip?: string } {
  const lacking = JSON.parse(process.env[lackingVariable] ?? "{}") as Lacking;
  const missing = wanted.filter((capability) => lacking[capability] !== undefined);
  if (missing.length === 0) return {};
  return { skip: `needs ${missing.map((each) => `${capabilities[each]} (${lacking[each]})`).join(" and ")}` };
}
