import { waitFor } from "../../support/wait-for.js";
import { type PrivateBroker, privateBroker } from "../brokers.js";
import type { Ledger } from "../ledger.js";
import { RelayProcess } from "../relay-process.js";
import { type RelayTarget, relayTarget } from "../relay-targets.js";
import type { Check, Run, Scenario } from "../run.js";
import { bound, sleep } from "./steps.js";

type Fault = "relay-sigkill" | "broker-restart" | "connection-cut";

const relayBatch = 50;
const faults = 3;

/**
 * A relay (`poutbox relay <broker>`, ordered by key) publishing keyed jobs from two producers
 * into a broker of the suite's own while, mid-stream, the relay is SIGKILLed and started
 * again (three times), the broker is SIGKILLed and started again over its data, or every
 * connection between relay and broker is cut at a TCP proxy (three times). Judged by what
 * the broker holds: every committed job, none rolled back; each job once where the broker
 * deduplicates (NATS JetStream, Redis with the relay's mark), a bounded number of duplicates
 * where it cannot (RabbitMQ, MQTT: each fault can bring back the batches in hand); one key's jobs
 * in commit order (first arrivals); nothing dead-lettered; after a broker restart or a cut, the
 * relay's "connected again" on stderr.
 */
function relayScenario(kind: PrivateBroker["kind"], fault: Fault): Scenario {
  return {
    name: `relay-${kind}-${fault}`,
    modes: ["polling"],
    async run(run) {
      const broker = await privateBroker(kind);
      const target = await relayTarget(broker, `faults_${kind}_${fault.replaceAll("-", "_")}`);
      run.receiveFrom(
        () => target.ids(),
        () => target.close(),
      );
      run.consumerName("default");
      const proxy = fault === "connection-cut" ? await run.proxy(broker.port) : undefined;
      const relay = (label: string) => {
        const process = new RelayProcess(label, [
          ...target.args(proxy?.port ?? broker.port),
          ...["--database-url", run.suite.url, "--schema", run.schema, "--name", "default"],
          ...["--batch-size", String(relayBatch)],
        ]);
        run.processes.push(process);
        return process;
      };
      let current = relay("a");
      let produced = false;
      const producing = run.produce({ transactions: 2500, pause: 2, keys: 4 }).finally(() => {
        produced = true;
      });
      // Mid-stream: the next fault once 100 more messages arrived, or the producers are through.
      const arrivals = (count: number) => arrived(target, count, () => produced);
      const notes: string[] = [];
      await arrivals(100);
      if (fault === "relay-sigkill") {
        for (let kill = 0; kill < faults; kill++) {
          current.signal("SIGKILL");
          await current.closed;
          if (kill === 0) run.fault();
          current = relay(String.fromCharCode(98 + kill));
          await arrivals(100);
        }
      } else if (fault === "broker-restart") {
        await broker.kill();
        run.fault();
        await sleep(500);
        const down = Date.now();
        await broker.start();
        const back = Date.now();
        const waited = await arrived(target, 1);
        notes.push(`broker down ${back - down + 500} ms; first message ${waited} ms after it was back`);
      } else {
        let cut = 0;
        for (let round = 0; round < faults; round++) {
          // The relay's client reconnects on its own time (NATS waits 2 s between tries).
          await waitFor(() => (proxy?.connections ?? 0) > 0, { timeout: 30_000, what: "the relay connected again" });
          cut += proxy?.cut() ?? 0;
          if (round === 0) run.fault();
          await arrivals(100);
        }
        notes.push(`${cut} connections cut`);
      }
      await producing;
      // RabbitMQ and MQTT do not deduplicate: each fault may bring back the batches in hand.
      const deduplicates = kind === "nats" || kind === "redis";
      const duplicates = deduplicates ? 0 : bound(fault === "broker-restart" ? 1 : faults, relayBatch);
      // After a broker restart or cut connections the relay must say it is connected again:
      // without that line a log cannot tell a relay that publishes from one still waiting.
      const saysBack =
        fault === "relay-sigkill" || new RegExp(`poutbox: ${kind}: connected again`).test(current.stderr);
      return { bound: duplicates, notes: notes.join("; "), check: () => checkBroker(run, target, saysBack) };
    },
  };
}

/** Waits until `count` more messages arrived (or `enough` says so); returns how long that took, ms. */
async function arrived(target: RelayTarget, count: number, enough = () => false): Promise<number> {
  const started = Date.now();
  const goal = (await target.ids()).length + count;
  await waitFor(async () => enough() || (await target.ids()).length >= goal, {
    timeout: 60_000,
    interval: 50,
    what: `${count} more messages in the broker`,
  });
  return Date.now() - started;
}

/**
 * One key's jobs reached the broker in commit order (first arrivals), none went to dead letter,
 * and the relay said it was connected again when the fault was the broker's or the network's.
 */
async function checkBroker(run: Run, target: RelayTarget, saysBack: boolean): Promise<Check> {
  const order = keyOrder(run.ledger, await target.ids());
  const dead = (await run.deadLettered()).size;
  const failed = order.violations.length > 0 || dead > 0 || !saysBack;
  const notes = [
    `${order.keys} keys, order ${order.violations.length === 0 ? "kept" : `broken: ${order.violations.slice(0, 3).join("; ")}`}`,
    ...(dead > 0 ? [`${dead} dead-lettered (a relay must not give up on a broker that comes back)`] : []),
    ...(saysBack ? [] : ["the relay never said it was connected again"]),
  ];
  return { failed, notes: notes.join("; ") };
}

function keyOrder(ledger: Ledger, ids: readonly bigint[]): { keys: number; violations: string[] } {
  const last = new Map<string, number>();
  const seen = new Set<bigint>();
  const violations: string[] = [];
  for (const id of ids) {
    if (seen.has(id)) continue;
    seen.add(id);
    const place = ledger.keys.get(id);
    if (!place) continue;
    const before = last.get(place.key) ?? -1;
    if (place.seq < before) violations.push(`job ${id} (${place.key} #${place.seq}) after #${before}`);
    else last.set(place.key, place.seq);
  }
  return { keys: last.size, violations };
}

const allFaults: readonly Fault[] = ["relay-sigkill", "broker-restart", "connection-cut"];

// MQTT keeps nothing for a subscriber that is away, so a broker restart is judged by a reader
// that would miss what arrived while it reconnected: that fault is left out for MQTT.
export const relayFaults: readonly Scenario[] = [
  ...(["nats", "redis", "rabbitmq"] as const).flatMap((kind) => allFaults.map((fault) => relayScenario(kind, fault))),
  relayScenario("mqtt", "relay-sigkill"),
  relayScenario("mqtt", "connection-cut"),
];
