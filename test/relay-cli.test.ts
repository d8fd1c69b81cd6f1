// `poutbox relay nats|rabbitmq|redis|mqtt`, the built command run as a child process the way an
// operator runs it: it relays committed jobs until SIGTERM, then finishes and exits 0.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { describe, it } from "node:test";
import { relayHeaders } from "../src/relays/relay-message.js";
import { FaultProxy } from "./faults/proxy.js";
import { type ChildOutput, outputOf } from "./support/child-output.js";
import { mqttUrl, testTopics } from "./support/mqtt.js";
import { natsUrl, testStream } from "./support/nats.js";
import { rabbitmqUrl, testExchange } from "./support/rabbitmq.js";
import { redisUrl, testRedis } from "./support/redis.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

function relay(args: readonly string[]): { child: ChildProcess; output: Promise<ChildOutput> } {
  const child = spawn(process.execPath, ["dist/cli/main.js", "relay", ...args], {
    env: { ...process.env, DATABASE_URL: db.url, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return { child, output: outputOf(child) };
}

/** Runs the relay until `arrived` says the job is in the broker, then stops it with SIGTERM. */
async function relayUntil(args: readonly string[], arrived: () => Promise<boolean>): Promise<ChildOutput> {
  const { child, output } = relay(args);
  try {
    await waitFor(arrived, { interval: 50, what: "the job in the broker" });
  } finally {
    child.kill("SIGTERM");
  }
  return output;
}

function assertStoppedCleanly(run: ChildOutput, broker: string): void {
  assert.equal(run.code, 0, `exit status (stderr: ${run.stderr})`);
  assert.match(run.stderr, new RegExp(`relaying into ${broker} as consumer "relay-${broker}"`));
  assert.match(run.stderr, /SIGTERM: finishing the batch in hand, then stopping/);
}

describe("poutbox relay", () => {
  it("nats: relays committed jobs, stops on SIGTERM", async () => {
    const { schema, client } = await db.freshSchema("cli_nats");
    const stream = await testStream();
    try {
      const id = await client.enqueue({ n: 1 }, { topic: "created" });
      const run = await relayUntil(
        ["nats", "--schema", schema, "--nats-url", natsUrl, "--subject", `${stream.prefix}.{topic}`],
        async () => (await stream.messages()).length === 1,
      );
      assertStoppedCleanly(run, "nats");
      const [message] = await stream.messages();
      assert.equal(message?.headers[relayHeaders.id], String(id));
      assert.equal(message?.subject, `${stream.prefix}.created`);
    } finally {
      await stream.close();
    }
  });

  it("rabbitmq: relays committed jobs, stops on SIGTERM", async () => {
    const { schema, client } = await db.freshSchema("cli_rabbitmq");
    const exchange = await testExchange();
    try {
      const id = await client.enqueue({ n: 1 }, { topic: "created" });
      const run = await relayUntil(
        [
          "rabbitmq",
          "--schema",
          schema,
          "--amqp-url",
          rabbitmqUrl,
          "--exchange",
          exchange.name,
          "--routing-key",
          "{topic}",
        ],
        async () => (await exchange.messages()).length === 1,
      );
      assertStoppedCleanly(run, "rabbitmq");
      const [message] = await exchange.messages();
      assert.equal(message?.headers[relayHeaders.id], String(id));
      assert.equal(message?.routingKey, "created");
    } finally {
      await exchange.close();
    }
  });

  it("rabbitmq: gives up on a try the broker never answers, tries again, and says when it is connected", async () => {
    const { schema, client } = await db.freshSchema("cli_rabbitmq_silent");
    const exchange = await testExchange();
    // Black-holed, the proxy takes connections and passes nothing on: a broker that accepts but
    // never completes the handshake. Healed, it forwards to the real broker.
    const broker = new URL(rabbitmqUrl);
    const proxy = await FaultProxy.start(Number(broker.port || 5672), broker.hostname);
    proxy.blackhole();
    try {
      const id = await client.enqueue({ n: 1 }, { topic: "created" });
      const { child, output } = relay([
        "rabbitmq",
        "--schema",
        schema,
        "--amqp-url",
        proxy.url(rabbitmqUrl),
        "--connect-timeout",
        "1",
        "--exchange",
        exchange.name,
        "--routing-key",
        "{topic}",
      ]);
      let stderr = "";
      child.stderr?.on("data", (chunk) => {
        stderr += chunk;
      });
      try {
        // Said once the unanswered try was given up and the next one scheduled.
        await waitFor(() => /connect ETIMEDOUT; reconnecting\n/.test(stderr), {
          what: `the relay to give up on the unanswered try (stderr: ${stderr})`,
        });
        proxy.heal();
        await waitFor(async () => (await exchange.messages()).length === 1, {
          interval: 50,
          what: `the job in the broker (stderr: ${stderr})`,
        });
      } finally {
        child.kill("SIGTERM");
      }
      const run = await output;
      assertStoppedCleanly(run, "rabbitmq");
      assert.match(run.stderr, /poutbox: rabbitmq: connect ETIMEDOUT; reconnecting\n/);
      assert.match(run.stderr, /poutbox: rabbitmq: connected again\n/);
      assert.equal((await exchange.messages())[0]?.headers[relayHeaders.id], String(id));
    } finally {
      await proxy.close();
      await exchange.close();
    }
  });

  it("redis: relays committed jobs, stops on SIGTERM", async () => {
    const { schema, client } = await db.freshSchema("cli_redis");
    const redis = await testRedis();
    try {
      const id = await client.enqueue({ n: 1 }, { topic: "created" });
      const run = await relayUntil(
        ["redis", "--schema", schema, "--redis-url", redisUrl, "--stream", `${redis.prefix}:{topic}`],
        async () => (await redis.entries(`${redis.prefix}:created`)).length === 1,
      );
      assertStoppedCleanly(run, "redis");
      const [entry] = await redis.entries(`${redis.prefix}:created`);
      assert.equal(entry?.[relayHeaders.id], String(id));
    } finally {
      await redis.close();
    }
  });

  it("mqtt: relays committed jobs, stops on SIGTERM", async () => {
    const { schema, client } = await db.freshSchema("cli_mqtt");
    const topics = await testTopics();
    try {
      const id = await client.enqueue({ n: 1 }, { topic: "created" });
      const run = await relayUntil(
        ["mqtt", "--schema", schema, "--mqtt-url", mqttUrl, "--topic", `${topics.prefix}/{topic}`],
        async () => topics.received.length === 1,
      );
      assertStoppedCleanly(run, "mqtt");
      const [message] = topics.received;
      assert.equal(message?.properties[relayHeaders.id], String(id));
      assert.equal(message?.topic, `${topics.prefix}/created`);
    } finally {
      await topics.close();
    }
  });

  it("refuses a command line without its destination, or with a bad template, in one line", async () => {
    const { schema } = await db.freshSchema("cli_relay_bad");
    const missing = await relay(["nats", "--schema", schema]).output;
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /required option '--subject <template>' not specified/);
    const bad = await relay(["redis", "--schema", schema, "--redis-url", redisUrl, "--stream", "x:{tenant}"]).output;
    assert.equal(bad.code, 2, `exit status (stderr: ${bad.stderr})`);
    assert.match(bad.stderr, /^poutbox: .*\{tenant\}/);
    assert.equal(bad.stderr.trimEnd().split("\n").length, 1);
  });
});
