// The snapshot a new replication slot exports is where a replication consumer's catch-up by
// polling ends: every job it shows is polled, every later one streamed. Under concurrent
// commits and rollbacks PostgreSQL exports snapshots whose xmin is above their xmax, which
// pg_snapshot's input refuses; validSnapshot() must give one that sees exactly the same rows.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { replicationClient } from "../src/database/replication-client.js";
import { ReplicationConnection } from "../src/replication/replication-connection.js";
import { awaitSlotRelease } from "../src/slots/slot-admin.js";
import { validSnapshot } from "../src/sources/snapshot.js";
import { needs } from "./support/needs.js";
import { useTestDatabase } from "./support/test-database.js";

const db = useTestDatabase();

describe("the snapshot a slot exports", needs("logical-replication"), () => {
  it("in a form pg_snapshot accepts, sees exactly the rows the exported snapshot sees", async (t) => {
    await db.pool.query("CREATE TABLE public.churn (n int)");
    const pool = db.newPool({ max: 6 });
    let writing = true;
    // Short transactions that commit or roll back, all the time.
    const writers = Array.from({ length: 4 }, async () => {
      for (let n = 0; writing; n++) {
        const client = await pool.connect();
        try {
          await client.query("BEGIN");
          await client.query("INSERT INTO public.churn VALUES ($1)", [n]);
          await client.query(n % 2 === 0 ? "COMMIT" : "ROLLBACK");
        } finally {
          client.release();
        }
      }
    });
    let inverted = 0;
    const rounds = 30;
    try {
      for (let round = 0; round < rounds; round++) {
        const slot = `snapshot_test_${round}`;
        const walsender = await ReplicationConnection.open(replicationClient(db.pool));
        try {
          const created = await walsender.createSlot(slot);
          const reader = await db.pool.connect();
          try {
            await reader.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
            await reader.query(`SET TRANSACTION SNAPSHOT '${created.snapshotName}'`);
            const { rows } = await reader.query(
              `SELECT pg_current_snapshot()::text AS exported,
                      pg_snapshot_xmin(pg_current_snapshot()) > pg_snapshot_xmax(pg_current_snapshot()) AS inverted,
                      (SELECT count(*) FROM public.churn)::int AS seen`,
            );
            await reader.query("COMMIT");
            const { exported, seen } = rows[0];
            if (rows[0].inverted) inverted++;
            // This cluster's xids are in epoch 0, so a row's 32-bit xmin is its xid8.
            const { rows: judged } = await db.pool.query(
              `SELECT count(*) FILTER (WHERE pg_visible_in_snapshot(xmin::text::xid8, $1::pg_snapshot))::int AS visible,
                      count(*)::int AS total
                 FROM public.churn`,
              [validSnapshot(exported)],
            );
            assert.equal(judged[0].visible, seen, `round ${round}: snapshot ${exported}, ${judged[0].total} rows now`);
          } finally {
            reader.release();
          }
        } finally {
          const pid = walsender.pid;
          await walsender.close();
          if (pid !== null) await awaitSlotRelease(db.pool, slot, pid, 10_000);
          await db.pool.query(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
            [slot],
          );
        }
      }
    } finally {
      writing = false;
      await Promise.all(writers);
      await pool.end();
    }
    t.diagnostic(`${inverted} of ${rounds} exported snapshots had xmin above xmax`);
  });
});
