import { migrate } from "../../../src/index.js";
import { consumerSlot } from "../../../src/slots/slot-admin.js";
import type { ConsumerProcess } from "../../support/consumer-child.js";
import { startEmbeddedCluster } from "../../support/embedded-cluster.js";
import { waitFor } from "../../support/wait-for.js";
import type { Run, Scenario } from "../run.js";
import { errors, leading, sleep } from "./steps.js";

/**
 * Waits for the consumer to give up with an error naming the problem, and checks it does not
 * retry in a loop: at most two error lines over the next two seconds.
 */
async function givesUp(child: ConsumerProcess, pattern: RegExp): Promise<string> {
  const line = await waitFor(() => errors(child).find((text) => pattern.test(text)), {
    timeout: 20_000,
    what: `${child.label} to fail with ${pattern} (${child.describe()})`,
  });
  await sleep(2000);
  const count = errors(child).length;
  if (count > 2) throw new Error(`${child.label} keeps retrying: ${count} errors (${errors(child).join(" | ")})`);
  return line;
}

/**
 * Runs a consumer until the jobs so far are delivered, then stops it. Returns how many of the
 * jobs it handled its recorded progress snapshot does not show as done: what a catch-up from
 * that snapshot delivers again (the documented bound for a lost slot).
 */
async function consumeThenStop(run: Run, label: string): Promise<number> {
  const consumer = run.consumer(label);
  await leading(consumer);
  await run.produce({ transactions: 100 });
  await run.drain();
  consumer.signal("SIGTERM");
  await consumer.closed;
  const { rows } = await run.pool.query(
    `SELECT j.id::text FROM "${run.schema}".immediate j, "${run.schema}".consumers c
     WHERE c.name = 'default' AND NOT pg_visible_in_snapshot(j.transaction_id, c.snapshot)`,
  );
  const handled = new Set(run.handled());
  return rows.filter((row) => handled.has(BigInt(row.id))).length;
}

/** 10. The slot dropped while the consumer is down: SlotLostError; `slotLost: "catch-up"` recovers without loss. */
export const slotDropped: Scenario = {
  name: "slot-dropped-while-down",
  modes: ["replication"],
  async run(run) {
    const again = await consumeThenStop(run, "a");
    await run.produce({ transactions: 100 });
    await run.pool.query("SELECT pg_drop_replication_slot($1)", [await consumerSlot(run.pool, run.schema, "default")]);
    const failing = run.consumer("b");
    const error = await givesUp(failing, /slot .* (was dropped|is missing|does not exist|was invalidated)/i);
    failing.signal("SIGTERM");
    await failing.closed;
    run.fault();
    run.consumer("c", { flags: ["--slot-lost", "catch-up"] });
    return { bound: again, notes: `error: ${error.slice(0, 120)}` };
  },
};

/** 10. The slot invalidated by max_slot_wal_keep_size while the consumer is down. */
export const slotInvalidated: Scenario = {
  name: "slot-invalidated",
  modes: ["replication"],
  async run(run) {
    const again = await consumeThenStop(run, "a");
    await run.produce({ transactions: 100 });
    await run.pool.query("ALTER SYSTEM SET max_slot_wal_keep_size = '16MB'");
    await run.pool.query("SELECT pg_reload_conf()");
    try {
      await run.pool.query("CREATE TABLE IF NOT EXISTS public.fault_wal_filler (data text)");
      await waitFor(
        async () => {
          await run.pool.query(
            "INSERT INTO public.fault_wal_filler SELECT repeat(md5(random()::text), 200) FROM generate_series(1, 2000)",
          );
          await run.pool.query("SELECT pg_switch_wal()");
          await run.pool.query("CHECKPOINT");
          const { rows } = await run.pool.query("SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1", [
            await consumerSlot(run.pool, run.schema, "default"),
          ]);
          return rows[0]?.wal_status === "lost";
        },
        { timeout: 60_000, interval: 1, what: "the slot to be invalidated" },
      );
      await run.pool.query("TRUNCATE public.fault_wal_filler");
      const failing = run.consumer("b");
      const error = await givesUp(failing, /invalidated|lost/i);
      failing.signal("SIGTERM");
      await failing.closed;
      run.fault();
      run.consumer("c", { flags: ["--slot-lost", "catch-up"] });
      return { bound: again, notes: `error: ${error.slice(0, 120)}` };
    } finally {
      await run.pool.query("ALTER SYSTEM RESET max_slot_wal_keep_size");
      await run.pool.query("SELECT pg_reload_conf()");
    }
  },
};

/** 10. Every replication slot taken: a ReplicationSetupError naming max_replication_slots; freeing one lets it start. */
export const slotsExhausted: Scenario = {
  name: "slots-exhausted",
  modes: ["replication"],
  async run(run) {
    const fillers: string[] = [];
    try {
      for (;;) {
        const name = `fault_filler_${fillers.length}`;
        try {
          await run.pool.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [name]);
        } catch {
          break;
        }
        fillers.push(name);
      }
      await run.produce({ transactions: 100 });
      const failing = run.consumer("a");
      const error = await givesUp(failing, /max_replication_slots/);
      failing.signal("SIGTERM");
      await failing.closed;
      await run.pool.query("SELECT pg_drop_replication_slot($1)", [fillers.pop()]);
      run.fault();
      run.consumer("b");
      return { bound: 0, notes: `${fillers.length + 1} slots taken; error: ${error.slice(0, 100)}` };
    } finally {
      for (const name of fillers) await run.pool.query("SELECT pg_drop_replication_slot($1)", [name]);
    }
  },
};

/**
 * 10. A role without REPLICATION (nor the right to create the publication): start() opens a
 * walsender first, so the first error names the REPLICATION attribute; once granted, the next
 * gives the statement for the table's owner to run. Meanwhile the same role consumes in polling
 * mode (lossless fallback).
 */
export const roleWithoutReplication: Scenario = {
  name: "role-without-replication",
  modes: ["replication"],
  async run(run) {
    const role = `fault_norepl_${run.mode}`;
    await run.pool.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
    await run.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD 'fault' NOREPLICATION`);
    await run.pool.query(`GRANT ALL ON SCHEMA "${run.schema}" TO ${role}`);
    await run.pool.query(`GRANT ALL ON ALL TABLES IN SCHEMA "${run.schema}" TO ${role}`);
    await run.pool.query(`GRANT ALL ON ALL SEQUENCES IN SCHEMA "${run.schema}" TO ${role}`);
    const url = new URL(run.suite.url);
    url.username = role;
    url.password = "fault";
    const settings = { url: url.toString(), flags: ["--maintenance", "off"] };
    await run.produce({ transactions: 100 });
    const first = run.consumer("a", settings);
    const roleError = await givesUp(first, /REPLICATION attribute/);
    first.signal("SIGTERM");
    await first.closed;
    run.fault();
    const fallback = run.consumer("c", { ...settings, mode: "polling" });
    await run.drain();
    fallback.signal("SIGTERM");
    await fallback.closed;
    await run.pool.query(`ALTER ROLE ${role} REPLICATION`);
    const second = run.consumer("b", settings);
    const publicationError = await givesUp(second, /CREATE PUBLICATION/);
    second.signal("SIGTERM");
    await second.closed;
    // What the error says to run, as the owner: it must be a statement that runs.
    await run.pool.query(publicationError.slice(publicationError.indexOf("CREATE PUBLICATION")));
    return {
      bound: 0,
      notes: `errors: "${roleError.slice(0, 60)}...", then "${publicationError.slice(0, 60)}..."; the same role consumed in polling mode`,
    };
  },
};

/** 10. wal_level is not logical (a server of its own): a ReplicationSetupError naming wal_level; polling works. */
export const walLevelReplica: Scenario = {
  name: "wal-level-replica",
  modes: ["replication"],
  async run(run) {
    const cluster = await startEmbeddedCluster({
      version: run.suite.cluster.version,
      settings: { wal_level: "replica" },
    });
    try {
      await migrate(cluster.url, { schema: run.schema });
      const failing = run.consumer("a", { url: cluster.url });
      const error = await givesUp(failing, /wal_level/);
      failing.signal("SIGTERM");
      await failing.closed;
      return { bound: 0, notes: `error: ${error.slice(0, 100)}` };
    } finally {
      await cluster.stop();
    }
  },
};
