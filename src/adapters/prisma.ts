/**
 * Enqueue inside a Prisma interactive transaction.
 *
 * @module poutbox/prisma
 */
import type { Queryable, SqlStateAware, TransactionAware } from "../database/queryable.js";
import { requireMethod } from "./connection-check.js";

/** The subset of a Prisma client, or of an interactive transaction's client, that Poutbox uses. */
export interface PrismaExecutor {
  // biome-ignore lint/suspicious/noExplicitAny: Prisma declares its raw values as any[].
  $queryRawUnsafe<Row = unknown>(query: string, ...values: any[]): PromiseLike<Row>;
}

/**
 * Runs Poutbox's statements through Prisma (with a driver adapter such as `@prisma/adapter-pg`,
 * or a classic engine): the client as a `db`, or the client an interactive transaction
 * (`prisma.$transaction(async (tx) => ...)`) receives as `tx`. Values travel as bind
 * parameters of `$queryRawUnsafe`, never spliced into the text.
 *
 * @example
 * ```ts
 * import { fromPrisma } from "poutbox/prisma";
 * await prisma.$transaction(async (tx) => {
 *   const order = await tx.order.create({ data: { email } });
 *   await outbox.enqueue({ orderId: order.id }, { tx: fromPrisma(tx) });
 * });
 * ```
 */
export function fromPrisma(prisma: PrismaExecutor): Queryable & TransactionAware & SqlStateAware {
  requireMethod(prisma, "$queryRawUnsafe", "a Prisma client or interactive transaction");
  // The client an interactive transaction hands out hides $connect and $disconnect (Prisma 5
  // to 7; from Prisma 7 it keeps $transaction, for nested transactions).
  const inTransaction = typeof (prisma as { $disconnect?: unknown }).$disconnect !== "function";
  return {
    async query(text, values) {
      const rows = await prisma.$queryRawUnsafe<unknown[]>(text, ...(values ?? []));
      return { rows: [...rows] };
    },
    getTransactionStatus: () => (inTransaction ? "T" : "I"),
    sqlState: prismaSqlState,
  };
}

/**
 * A raw query's database error reaches the caller as Prisma's own (code P2010), unchanged,
 * with the SQLSTATE in `meta`: under `driverAdapterError.cause.originalCode` with a driver
 * adapter, under `code` with a classic engine.
 */
function prismaSqlState(error: unknown): string | undefined {
  const meta = (error as { meta?: Record<string, unknown> } | null)?.meta;
  const adapterError = meta?.driverAdapterError as { cause?: { originalCode?: unknown } } | undefined;
  const code = adapterError?.cause?.originalCode ?? meta?.code;
  return typeof code === "string" ? code : undefined;
}
