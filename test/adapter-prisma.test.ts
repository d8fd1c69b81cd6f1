import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { PrismaPg } from "@prisma/adapter-pg";
import { fromPrisma, type PrismaExecutor } from "../src/adapters/prisma.js";
import { Client, InvalidOptionError, TransactionStateError } from "../src/index.js";
import { adapterSuite, Rollback } from "./support/adapter-suite.js";

const run = promisify(execFile);

/** What these tests use of the generated client (generated at run time, so not type-checked by lint). */
interface OrdersClient extends PrismaExecutor {
  $transaction<T>(work: (tx: OrdersTransaction) => Promise<T>): Promise<T>;
  $disconnect(): Promise<void>;
}
interface OrdersTransaction extends PrismaExecutor {
  order: { create(args: { data: { note: string } }): Promise<{ id: number }> };
}

/**
 * Generates the Prisma client for test/prisma/schema.prisma. Prisma 7 with a driver adapter
 * needs no query engine, and `generate` uses none: but the CLI still looks for the schema
 * engine binary first and downloads it when missing, which cannot work offline. Naming any
 * existing file as that binary skips the download; `generate` never runs it.
 */
async function generatePrismaClient(): Promise<string> {
  await run(
    process.execPath,
    ["test/node_modules/prisma/build/index.js", "generate", "--schema", "test/prisma/schema.prisma"],
    {
      env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.execPath, CHECKPOINT_DISABLE: "1" },
    },
  );
  return pathToFileURL("test/.generated/prisma/client.ts").href;
}

let prisma: OrdersClient;

const db = adapterSuite("Prisma (adapter-pg, interactive transaction)", async (test) => {
  const generated = await generatePrismaClient();
  const { PrismaClient } = (await import(generated)) as {
    PrismaClient: new (options: { adapter: PrismaPg }) => OrdersClient;
  };
  prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: test.url, max: 2 }) });
  return {
    db: fromPrisma(prisma),
    async inTransaction(end, note, work) {
      let result: Awaited<ReturnType<typeof work>> | undefined;
      try {
        await prisma.$transaction(async (tx) => {
          await tx.order.create({ data: { note } });
          result = await work(fromPrisma(tx));
          if (end === "rollback") throw new Rollback();
        });
      } catch (error) {
        if (!(error instanceof Rollback)) throw error;
      }
      return result as Awaited<ReturnType<typeof work>>;
    },
    close: () => prisma.$disconnect(),
  };
});

describe("Prisma adapter", () => {
  it("refuses the client itself as tx, and something that is not Prisma", async () => {
    const { schema } = await db.freshSchema("refused");
    const outbox = new Client(fromPrisma(prisma), { schema });
    await assert.rejects(outbox.enqueue({ no: true }, { tx: fromPrisma(prisma) }), TransactionStateError);
    assert.throws(() => fromPrisma({} as never), InvalidOptionError);
  });

  it("reads the SQLSTATE of Prisma's errors, from a driver adapter or a classic engine", () => {
    const adapted = fromPrisma({ $queryRawUnsafe: async () => [] } as never);
    const fromDriverAdapter = { code: "P2010", meta: { driverAdapterError: { cause: { originalCode: "42P01" } } } };
    assert.equal(adapted.sqlState(fromDriverAdapter), "42P01");
    assert.equal(adapted.sqlState({ code: "P2010", meta: { code: "25P02" } }), "25P02");
    assert.equal(adapted.sqlState(new Error("not from the database")), undefined);
  });

  it("type-checks the real generated client and its transaction client against the built adapter", async () => {
    await run(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "test/fixtures/prisma"]).catch(
      (error: { stdout?: string }) => assert.fail(error.stdout ?? String(error)),
    );
  });
});
