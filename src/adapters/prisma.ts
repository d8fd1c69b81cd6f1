import type { Queryable, TransactionAware } from "../database/queryable.js";
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
export function fromPrisma(prisma: PrismaExecutor): Queryable & TransactionAware {
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
  };
}
