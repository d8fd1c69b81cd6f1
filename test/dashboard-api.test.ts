// poutbox/dashboard: the server of the operators' web dashboard, over real HTTP (node:http
// through toNodeListener, fetch) on a real PostgreSQL: search, detail, actions with their
// previews, read-only, CSRF, authentication, assets, security headers, the event stream, and
// the CLI's refusal to expose it without authentication.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { isLoopback } from "../src/cli/commands/dashboard.js";
import { createDashboardHandler } from "../src/dashboard/handler.js";
import {
  type DashboardHandler,
  type DashboardOptions,
  dashboardHandler,
  toNodeListener,
} from "../src/dashboard/index.js";
import { escapeLike, traceIdOf } from "../src/dashboard/jobs.js";
import { type Client, status } from "../src/index.js";
import { outputOf } from "./support/child-output.js";
import { runWorkload, workload } from "./support/metrics-workload.js";
import { quickConsumer } from "./support/quick-consumer.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

/** A folder standing for dist/dashboard/assets/. */
const assets = mkdtempSync(join(tmpdir(), "poutbox-dashboard-"));
writeFileSync(
  join(assets, "index.html"),
  '<!doctype html><html><head><base href="/"><script type="module" src="assets/app.js"></script></head></html>',
);
writeFileSync(join(assets, "app.js"), "console.log('app');\n");
writeFileSync(join(assets, "app.css"), "body{}\n");
const assetsUrl = pathToFileURL(`${assets}/`);

const quiet = { warn() {}, error() {} };

interface Served {
  readonly url: string;
  readonly handler: DashboardHandler;
  close(): Promise<void>;
}

const servers: Served[] = [];
after(async () => {
  for (const served of servers) await served.close();
});

async function serve(options: DashboardOptions): Promise<Served> {
  const handler = createDashboardHandler(db.pool, { logger: quiet, ...options }, assetsUrl);
  const server: Server = createServer(toNodeListener(handler));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const served = {
    url: `http://127.0.0.1:${port}`,
    handler,
    async close() {
      handler.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  servers.push(served);
  return served;
}

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, init);
  const type = response.headers.get("content-type") ?? "";
  assert.match(type, /^application\/json/, `content type of ${url}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A POST as the UI sends it: JSON, with the session's CSRF token. */
async function act(
  served: Served,
  action: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const session = await getJson(`${served.url}/api/session`, { headers: pick(headers, "authorization") });
  return getJson(`${served.url}/api/actions/${action}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-poutbox-csrf": String(session.body.csrfToken),
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

function pick(headers: Record<string, string>, name: string): Record<string, string> {
  return headers[name] === undefined ? {} : { [name]: headers[name] as string };
}

async function jobs(served: Served, query: string): Promise<{ id: string; [field: string]: unknown }[]> {
  const { status, body } = await getJson(`${served.url}/api/jobs?${query}`);
  assert.equal(status, 200, `GET /api/jobs?${query}: ${JSON.stringify(body)}`);
  return body.jobs as { id: string }[];
}

async function serverNow(): Promise<string> {
  const { rows } = await db.pool.query(
    "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS now",
  );
  return rows[0].now as string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe("dashboard: search and detail", () => {
  let schema: string;
  let client: Client;
  let served: Served;
  const ids: Record<string, string> = {};
  let between = "";
  let afterAll = "";

  before(async () => {
    ({ schema, client } = await db.freshSchema("dash_search"));
    await runWorkload(db, schema, client);
    ids.percent = String(
      await client.enqueue({ note: "100% off_sale" }, { topic: "order.created", key: "k-1", headers: { traceparent } }),
    );
    ids.plain = String(await client.enqueue({ note: "100 percent offXsale" }, { topic: "order.created", key: "k-2" }));
    // Times are taken to the millisecond: a few apart, so the range test is exact.
    await sleep(20);
    between = await serverNow();
    await sleep(20);
    ids.script = String(await client.enqueue("<script>alert(1)</script>", { topic: "user.signed" }));
    ids.backslash = String(await client.enqueue({ path: "C:\\temp" }, { topic: "files" }));
    await sleep(20);
    afterAll = await serverNow();
    served = await serve({ schema });
  });

  it("lists pending jobs of a consumer, newest first, and pages through them", async () => {
    const all = await jobs(served, "state=pending&consumer=mailer");
    assert.equal(all.length, workload.pendingJobs + 4);
    const numeric = all.map((job) => BigInt(job.id));
    assert.deepEqual(
      numeric,
      [...numeric].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)),
    );
    assert.ok(all.every((job) => job.state === "pending" && job.consumer === "mailer"));
    const first = await getJson(`${served.url}/api/jobs?state=pending&consumer=mailer&limit=3`);
    assert.equal((first.body.jobs as unknown[]).length, 3);
    assert.equal(first.body.next, all[2]?.id);
    const second = await jobs(served, `state=pending&consumer=mailer&limit=3&before=${first.body.next}`);
    assert.deepEqual(
      second.map((job) => job.id),
      all.slice(3, 6).map((job) => job.id),
    );
    const last = await getJson(`${served.url}/api/jobs?state=pending&consumer=mailer&limit=100`);
    assert.equal(last.body.next, null);
  });

  it("finds jobs by topic, key, id and time range", async () => {
    const byTopic = await jobs(served, "state=pending&consumer=mailer&topic=order.created");
    assert.deepEqual(
      byTopic.map((job) => job.id),
      [ids.plain, ids.percent],
    );
    const twoTopics = await jobs(served, "state=pending&consumer=mailer&topic=user.signed&topic=files");
    assert.deepEqual(
      twoTopics.map((job) => job.id),
      [ids.backslash, ids.script],
    );
    assert.deepEqual(await jobs(served, "state=pending&consumer=mailer&topic=order"), []);
    const byKey = await jobs(served, "state=pending&consumer=mailer&key=k-1");
    assert.deepEqual(
      byKey.map((job) => job.id),
      [ids.percent],
    );
    assert.equal(byKey[0]?.key, "k-1");
    assert.equal(byKey[0]?.topic, "order.created");
    const byId = await jobs(served, `state=pending&consumer=mailer&id=${ids.script}`);
    assert.deepEqual(
      byId.map((job) => job.id),
      [ids.script],
    );
    const from = await jobs(served, `state=pending&consumer=mailer&from=${encodeURIComponent(between)}`);
    assert.deepEqual(
      from.map((job) => job.id),
      [ids.backslash, ids.script],
    );
    const to = await jobs(
      served,
      `state=pending&consumer=mailer&topic=order.created&topic=user.signed&to=${encodeURIComponent(between)}`,
    );
    assert.deepEqual(
      to.map((job) => job.id),
      [ids.plain, ids.percent],
    );
    assert.deepEqual(await jobs(served, `state=pending&consumer=mailer&from=${encodeURIComponent(afterAll)}`), []);
  });

  it("searches the payload text with %, _ and \\ as plain characters", async () => {
    const percent = await jobs(served, `state=pending&consumer=mailer&q=${encodeURIComponent("100%")}`);
    assert.deepEqual(
      percent.map((job) => job.id),
      [ids.percent],
    );
    const underscore = await jobs(served, `state=pending&consumer=mailer&q=${encodeURIComponent("off_sale")}`);
    assert.deepEqual(
      underscore.map((job) => job.id),
      [ids.percent],
    );
    const caseless = await jobs(served, `state=pending&consumer=mailer&q=${encodeURIComponent("OFFXSALE")}`);
    assert.deepEqual(
      caseless.map((job) => job.id),
      [ids.plain],
    );
    // The JSON text holds the backslash escaped: C:\\temp.
    const backslash = await jobs(served, `state=pending&consumer=mailer&q=${encodeURIComponent("C:\\\\temp")}`);
    assert.deepEqual(
      backslash.map((job) => job.id),
      [ids.backslash],
    );
    assert.equal(escapeLike("a%b_c\\d"), "a\\%b\\_c\\\\d");
  });

  it("returns a script payload verbatim, as JSON data", async () => {
    const response = await fetch(`${served.url}/api/jobs?state=pending&consumer=mailer&q=script`);
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    const text = await response.text();
    assert.ok(!text.includes("&lt;"), "not HTML-escaped: it is data");
    const { jobs: found } = JSON.parse(text) as { jobs: { id: string; payloadPreview: string }[] };
    assert.deepEqual(
      found.map((job) => job.id),
      [ids.script],
    );
    assert.equal(found[0]?.payloadPreview, JSON.stringify("<script>alert(1)</script>"));
    const detail = await getJson(`${served.url}/api/jobs/pending/${ids.script}?consumer=mailer`);
    assert.equal((detail.body.job as { payload: unknown }).payload, "<script>alert(1)</script>");
  });

  it("shows a job in full, with its trace id, and 404 for one that is not there", async () => {
    const { status, body } = await getJson(`${served.url}/api/jobs/pending/${ids.percent}?consumer=mailer`);
    assert.equal(status, 200);
    const job = body.job as Record<string, unknown>;
    assert.equal(job.id, ids.percent);
    assert.equal(job.state, "pending");
    assert.deepEqual(job.payload, { note: "100% off_sale" });
    assert.deepEqual(job.headers, { traceparent });
    assert.equal(job.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.equal(job.attempts, 0);
    assert.equal(job.key, "k-1");
    const plain = await getJson(`${served.url}/api/jobs/pending/${ids.plain}`);
    assert.equal((plain.body.job as { traceId: unknown }).traceId, null);
    assert.equal((await getJson(`${served.url}/api/jobs/pending/999999999?consumer=mailer`)).status, 404);
    assert.equal((await getJson(`${served.url}/api/jobs/scheduled/${ids.plain}`)).status, 404);
    assert.equal((await getJson(`${served.url}/api/jobs/nowhere/1`)).status, 404);
    assert.equal((await getJson(`${served.url}/api/jobs/dead/abc`)).status, 400);
    assert.equal(traceIdOf("garbage"), null);
  });

  it("lists dead letters, failed and scheduled jobs with their fields", async () => {
    const dead = await jobs(served, "state=dead");
    assert.equal(dead.length, workload.deadLetters);
    assert.ok(dead.every((job) => job.consumer === "mailer" && /refused dies/.test(String(job.lastError))));
    assert.ok(dead.every((job) => job.attempt === 1));
    const deadDetail = await getJson(`${served.url}/api/jobs/dead/${dead[0]?.id}`);
    assert.equal((deadDetail.body.job as { payload: unknown }).payload, "dies");
    const failed = await jobs(served, "state=failed&consumer=mailer");
    assert.equal(failed.length, workload.failed.rows);
    assert.ok(failed.every((job) => job.key === "order-1"));
    const scheduled = await jobs(served, "state=scheduled");
    assert.equal(scheduled.length, workload.scheduled.rows);
    assert.ok(scheduled.every((job) => typeof job.runAt === "string" && job.consumer === null));
  });

  it("refuses wrong parameters with 400 and a clear message", async () => {
    const cases: [string, RegExp][] = [
      ["", /state: required/],
      ["state=bogus", /state: expected one of pending, scheduled, failed, dead/],
      ["state=pending", /consumer: required for pending/],
      ["state=pending&consumer=nobody", /no consumer named "nobody"/],
      ["state=scheduled&consumer=x", /consumer: scheduled jobs belong to no consumer/],
      ["state=dead&limit=0", /limit: expected an integer from 1 to 500/],
      ["state=dead&limit=abc", /limit/],
      ["state=dead&id=12a", /id: expected a job id/],
      ["state=dead&id=99999999999999999999", /id: expected a job id/],
      ["state=dead&before=-1", /before: expected a job id/],
      ["state=dead&from=yesterday", /from: expected an ISO 8601 time/],
      ["state=dead&from=2026-01-02&to=2026-01-01", /from: after to/],
      ["state=dead&color=red", /unknown parameter "color"/],
      ["state=dead&key=a&key=b", /key: given more than once/],
      [`state=dead&q=${"x".repeat(201)}`, /q: at most 200 characters/],
    ];
    for (const [query, message] of cases) {
      const { status, body } = await getJson(`${served.url}/api/jobs?${query}`);
      assert.equal(status, query.includes("nobody") ? 404 : 400, query);
      assert.match(String(body.error), message, query);
    }
  });

  it("serves the overview, its samples, and the consumers with their blocked keys", async () => {
    const sampled = await serve({ schema, sampleInterval: 100 });
    const first = await getJson(`${sampled.url}/api/overview`);
    assert.equal((first.body.status as { schema: string }).schema, schema);
    type Point = { enqueued: number; consumers: Record<string, { pending: number | null; delivered: number | null }> };
    const seriesNow = async () => (await getJson(`${sampled.url}/api/overview`)).body.series as Point[];
    // The first sample is the baseline: taken before the jobs are enqueued.
    const baseline = await waitFor(async () => (await seriesNow())[0], { what: "the first sample" });
    assert.equal(baseline.enqueued, 0);
    const pendingBefore = baseline.consumers.mailer?.pending as number;
    await client.enqueueMany([1, 2, 3]);
    const series = await waitFor(
      async () => {
        const now = await seriesNow();
        const last = now.at(-1);
        const enqueued = now.reduce((sum, sample) => sum + sample.enqueued, 0);
        return enqueued === 3 && last?.consumers.mailer?.pending === pendingBefore + 3 ? now : undefined;
      },
      { what: "samples counting the three jobs enqueued, and the backlog they make" },
    );
    assert.ok(series.length <= 360);
    for (const sample of series.slice(1)) {
      assert.deepEqual(Object.keys(sample.consumers), ["mailer"]);
      assert.equal(typeof sample.consumers.mailer?.delivered, "number");
      assert.ok((sample.consumers.mailer?.delivered as number) >= 0);
    }
    const last = (await getJson(`${sampled.url}/api/overview`)).body;
    assert.equal((last.series as { deadLetters: number }[]).at(-1)?.deadLetters, workload.deadLetters);
    const consumers = await getJson(`${served.url}/api/consumers`);
    const [one] = consumers.body.consumers as Record<string, unknown>[];
    assert.equal(one?.name, "mailer");
    assert.equal(one?.leader, null);
    assert.equal(one?.blockedKeyCount, 1);
    const keys = one?.blockedKeys as { key: string; head: { state: string; id: string }; waiting: number }[];
    assert.equal(keys.length, 1);
    assert.equal(keys[0]?.key, "order-1");
    assert.equal(keys[0]?.waiting, 2);
    assert.equal(keys[0]?.head.state, "retry");
    assert.ok("position" in (one ?? {}) && "slot" in (one ?? {}) && "lastMove" in (one ?? {}));
  });

  it("streams an overview event at once, then one per sample", async () => {
    const sampled = await serve({ schema, sampleInterval: 150 });
    const aborter = new AbortController();
    const response = await fetch(`${sampled.url}/api/events`, { signal: aborter.signal });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    const events = () =>
      [...text.matchAll(/event: overview\ndata: (.*)\n\n/g)].map((match) => JSON.parse(match[1] as string));
    while (events().length < 3) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const [first, , third] = events();
    assert.equal(first.status.schema, schema);
    assert.ok(Array.isArray(first.series));
    assert.ok(third.series.length >= 1);
    // close() ends the streams it serves.
    sampled.handler.close();
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    aborter.abort();
  });
});

describe("dashboard: actions", () => {
  let schema: string;
  let client: Client;
  let served: Served;

  before(async () => {
    ({ schema, client } = await db.freshSchema("dash_actions"));
    await runWorkload(db, schema, client);
    served = await serve({ schema });
  });

  it("requeues dead letters by id: the preview counts what the action does", async () => {
    const dead = await jobs(served, "state=dead");
    const id = dead[0]?.id as string;
    const preview = await act(served, "requeue", { ids: [id], consumer: "mailer", preview: true });
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    const { expect, ...rest } = preview.body;
    assert.deepEqual(rest, { preview: true, count: 1, ids: [id], capped: false, cap: 10_000 });
    assert.equal((expect as { count: number }).count, 1);
    assert.equal((await jobs(served, "state=dead")).length, 2, "a preview changes nothing");
    const done = await act(served, "requeue", { ids: [id], consumer: "mailer", expect });
    assert.deepEqual(done.body, { done: true, count: 1, ids: [id], capped: false, cap: 10_000 });
    assert.deepEqual(
      (await jobs(served, "state=dead")).map((job) => job.id),
      [dead[1]?.id],
    );
    const pending = await jobs(served, `state=pending&consumer=mailer&id=${id}`);
    assert.equal(pending.length, 1, "delivered again to its consumer");
  });

  it("purges dead letters by filter, acting on what the preview counted", async () => {
    const filter = { state: "dead", consumer: "mailer", q: "dies" };
    const preview = await act(served, "purge", { filter, preview: true });
    assert.equal(preview.body.count, 1);
    const done = await act(served, "purge", { filter });
    assert.equal(done.body.count, preview.body.count);
    assert.deepEqual(done.body.ids, preview.body.ids);
    assert.deepEqual(await jobs(served, "state=dead"), []);
    const none = await act(served, "purge", { filter: {}, preview: true });
    assert.equal(none.body.count, 0);
  });

  it("cancels scheduled jobs by id and by filter", async () => {
    const scheduled = await jobs(served, "state=scheduled");
    assert.equal(scheduled.length, 3);
    const one = scheduled[0]?.id as string;
    assert.equal((await act(served, "cancel", { ids: [one], preview: true })).body.count, 1);
    const done = await act(served, "cancel", { ids: [one] });
    assert.deepEqual([done.body.count, done.body.ids], [1, [one]]);
    const preview = await act(served, "cancel", { filter: { q: "scheduled" }, preview: true });
    assert.equal(preview.body.count, 2);
    const byFilter = await act(served, "cancel", { filter: { state: "scheduled", q: "scheduled" } });
    assert.equal(byFilter.body.count, preview.body.count);
    assert.deepEqual(byFilter.body.ids, preview.body.ids);
    assert.deepEqual(await jobs(served, "state=scheduled"), []);
    const wrongState = await act(served, "cancel", { filter: { state: "dead" } });
    assert.equal(wrongState.status, 400);
    assert.match(String(wrongState.body.error), /cancel acts on scheduled jobs only/);
    const nothing = await act(served, "cancel", {});
    assert.equal(nothing.status, 400);
    const badIds = await act(served, "cancel", { ids: ["1; DROP TABLE x"] });
    assert.equal(badIds.status, 400);
    assert.match(String(badIds.body.error), /ids\[0\]: expected a job id/);
  });

  it("retries and skips a blocked key's head", async () => {
    const [blocked] = await jobs(served, "state=failed&consumer=mailer&key=order-1");
    const preview = await act(served, "retry-key", { consumer: "mailer", key: "order-1", preview: true });
    assert.equal(preview.body.count, 1);
    const done = await act(served, "retry-key", { consumer: "mailer", key: "order-1" });
    assert.equal(done.body.count, 1);
    assert.deepEqual(done.body.ids, preview.body.ids);
    assert.equal(done.body.previousState, "retry");
    assert.ok(blocked);
    const skipPreview = await act(served, "skip-key", { consumer: "mailer", key: "order-1", preview: true });
    const skipped = await act(served, "skip-key", { consumer: "mailer", key: "order-1", reason: "test" });
    assert.equal(skipped.status, 200, JSON.stringify(skipped.body));
    assert.equal(skipped.body.count, skipPreview.body.count);
    assert.deepEqual(skipped.body.ids, skipPreview.body.ids);
    const unknown = await act(served, "skip-key", { consumer: "mailer", key: "nope", preview: true });
    assert.deepEqual([unknown.body.count, unknown.body.ids], [0, []]);
    const missing = await act(served, "retry-key", { consumer: "mailer" });
    assert.equal(missing.status, 400);
  });

  it("moves a consumer to now; a wrong target, or a running consumer, is refused", async () => {
    const running = quickConsumer(db.pool, async () => {}, { schema, name: "running" });
    await running.start();
    try {
      await waitFor(
        async () => (await status(db.pool, { schema })).consumers.find((each) => each.name === "running")?.leader,
        { what: "the consumer leading" },
      );
      for (const preview of [true, false]) {
        const refused = await act(served, "move", { consumer: "running", to: "now", preview });
        assert.equal(refused.status, 409, JSON.stringify(refused.body));
        assert.match(String(refused.body.error), /consumer "running" is running/);
      }
    } finally {
      await running.stop();
    }
    const before = await jobs(served, "state=pending&consumer=mailer");
    assert.ok(before.length > 0);
    const bad = await act(served, "move", { consumer: "mailer", to: "tomorrow" });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.error), /to: expected "now", "oldest", an ISO 8601 time or a job id/);
    const preview = await act(served, "move", { consumer: "mailer", to: "now", preview: true });
    assert.equal(preview.body.count, 1);
    assert.equal(preview.body.pendingJobs, before.length);
    assert.equal((await jobs(served, "state=pending&consumer=mailer")).length, before.length);
    const done = await act(served, "move", { consumer: "mailer", to: "now", reason: "dashboard test" });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.count, 1);
    assert.equal((done.body.move as { target: string }).target, "now");
    assert.deepEqual(await jobs(served, "state=pending&consumer=mailer"), []);
    const back = await act(served, "move", { consumer: "mailer", to: before.at(-1)?.id });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.ok((await jobs(served, "state=pending&consumer=mailer")).length >= before.length);
    const unknownAction = await act(served, "explode", {});
    assert.equal(unknownAction.status, 404);
  });

  it("answers 403 to every action when read-only, and still serves reads", async () => {
    const readOnly = await serve({ schema, readOnly: true });
    const session = await getJson(`${readOnly.url}/api/session`);
    assert.equal(session.body.readOnly, true);
    for (const action of ["requeue", "purge", "cancel", "retry-key", "skip-key", "move", "anything"]) {
      const { status, body } = await act(readOnly, action, { filter: {}, preview: true });
      assert.equal(status, 403, action);
      assert.match(String(body.error), /read-only/);
    }
    assert.equal((await getJson(`${readOnly.url}/api/jobs?state=scheduled`)).status, 200);
    assert.equal((await getJson(`${readOnly.url}/api/overview`)).status, 200);
    assert.equal((await getJson(`${readOnly.url}/api/consumers`)).status, 200);
  });
});

describe("dashboard: CSRF, authentication, assets, headers", () => {
  let schema: string;

  before(async () => {
    ({ schema } = await db.freshSchema("dash_guard"));
  });

  it("refuses an action without the CSRF token, with a wrong one, cross-site, or not JSON", async () => {
    const served = await serve({ schema });
    const session = await getJson(`${served.url}/api/session`);
    const token = String(session.body.csrfToken);
    assert.match(token, /^[\w-]{43}$/, "32 random bytes, base64url");
    const url = `${served.url}/api/actions/purge`;
    const body = JSON.stringify({ filter: {}, preview: true });
    const json = { "content-type": "application/json" };
    const cases: [string, Record<string, string>][] = [
      ["no token", json],
      ["wrong token", { ...json, "x-poutbox-csrf": `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}` }],
      ["cross origin", { ...json, "x-poutbox-csrf": token, origin: "https://evil.example" }],
      ["cross site", { ...json, "x-poutbox-csrf": token, "sec-fetch-site": "cross-site" }],
      ["text/plain", { "content-type": "text/plain", "x-poutbox-csrf": token }],
      ["form", { "content-type": "application/x-www-form-urlencoded", "x-poutbox-csrf": token }],
    ];
    for (const [what, headers] of cases) {
      const answer = await getJson(url, { method: "POST", headers, body });
      assert.equal(answer.status, 403, what);
      assert.equal(typeof answer.body.error, "string", what);
    }
    const ok = await getJson(url, {
      method: "POST",
      headers: { ...json, "x-poutbox-csrf": token, origin: served.url, "sec-fetch-site": "same-origin" },
      body,
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    // Behind a proxy that terminates TLS, the browser's origin is https://.
    const proxied = await getJson(url, {
      method: "POST",
      headers: {
        ...json,
        "x-poutbox-csrf": token,
        origin: served.url.replace("http:", "https:"),
        "x-forwarded-proto": "https",
      },
      body,
    });
    assert.equal(proxied.status, 200, JSON.stringify(proxied.body));
    const otherHost = await getJson(url, {
      method: "POST",
      headers: { ...json, "x-poutbox-csrf": token, origin: "https://evil.example", "x-forwarded-proto": "https" },
      body,
    });
    assert.equal(otherHost.status, 403);
    const other = await serve({ schema });
    const foreign = await getJson(`${other.url}/api/actions/purge`, {
      method: "POST",
      headers: { ...json, "x-poutbox-csrf": token },
      body,
    });
    assert.equal(foreign.status, 403, "each handler has its own token");
    const bad = await getJson(url, { method: "POST", headers: { ...json, "x-poutbox-csrf": token }, body: "{" });
    assert.equal(bad.status, 400);
    assert.equal((await getJson(url)).status, 405);
  });

  it("enforces a bearer token, and the ?token= cookie for browsers", async () => {
    const served = await serve({ schema, auth: { token: "s3cret-token" } });
    for (const path of ["/", "/api/session", "/api/jobs?state=dead", "/assets/app.js"]) {
      const refused = await fetch(`${served.url}${path}`);
      assert.equal(refused.status, 401, path);
      assert.equal(refused.headers.get("www-authenticate"), 'Bearer realm="poutbox"');
      assert.equal(refused.headers.get("x-frame-options"), "DENY");
    }
    assert.equal((await fetch(`${served.url}/api/session`, { headers: { authorization: "Bearer nope" } })).status, 401);
    const ok = await getJson(`${served.url}/api/session`, { headers: { authorization: "Bearer s3cret-token" } });
    assert.equal(ok.status, 200);
    const posted = await act(served, "purge", { filter: {}, preview: true }, { authorization: "Bearer s3cret-token" });
    assert.equal(posted.status, 200);
    assert.equal((await fetch(`${served.url}/?token=wrong`, { redirect: "manual" })).status, 401);
    assert.equal(
      (await fetch(`${served.url}/api/session?token=s3cret-token`)).status,
      401,
      "the query token is taken on / only",
    );
    const first = await fetch(`${served.url}/?token=s3cret-token`, { redirect: "manual" });
    assert.equal(first.status, 303);
    assert.equal(first.headers.get("location"), "/");
    const cookie = first.headers.get("set-cookie") ?? "";
    assert.match(cookie, /^poutbox_token=s3cret-token;/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const pair = cookie.split(";")[0] as string;
    const page = await fetch(`${served.url}/`, { headers: { cookie: pair } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<base href="\/">/);
    assert.equal((await fetch(`${served.url}/api/session`, { headers: { cookie: pair } })).status, 200);
    assert.equal(
      (await fetch(`${served.url}/api/session`, { headers: { cookie: "poutbox_token=other" } })).status,
      401,
    );
  });

  it("enforces HTTP Basic", async () => {
    const served = await serve({ schema, auth: { basic: { username: "ops", password: "pa:ss" } } });
    const refused = await fetch(`${served.url}/api/session`);
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get("www-authenticate"), 'Basic realm="poutbox"');
    const basic = (text: string) => ({ authorization: `Basic ${Buffer.from(text).toString("base64")}` });
    assert.equal((await fetch(`${served.url}/api/session`, { headers: basic("ops:wrong") })).status, 401);
    assert.equal((await fetch(`${served.url}/api/session`, { headers: basic("other:pa:ss") })).status, 401);
    assert.equal((await fetch(`${served.url}/api/session`, { headers: basic("ops:pa:ss") })).status, 200);
    assert.equal((await fetch(`${served.url}/`, { headers: basic("ops:pa:ss") })).status, 200);
  });

  it("serves the assets, index.html under basePath, and refuses traversal", async () => {
    const served = await serve({ schema });
    const index = await fetch(`${served.url}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get("content-type") ?? "", /^text\/html/);
    assert.equal(index.headers.get("cache-control"), "no-cache");
    const script = await fetch(`${served.url}/assets/app.js`);
    assert.match(script.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.equal(await script.text(), "console.log('app');\n");
    assert.match((await fetch(`${served.url}/assets/app.css`)).headers.get("content-type") ?? "", /^text\/css/);
    assert.equal((await fetch(`${served.url}/assets/missing.js`)).status, 404);
    for (const path of [
      "/assets/..%2F..%2Fpackage.json",
      "/assets/%2e%2e%2fpackage.json",
      "/assets/..%5Cpackage.json",
      "/assets/.hidden",
      "/assets/",
      "/assets/a%00b",
    ]) {
      assert.equal((await fetch(`${served.url}${path}`)).status, 404, path);
    }
    // Unnormalised, as a client other than fetch may send it.
    const raw = await rawGet(served.url, "/assets/../../../package.json");
    assert.equal(raw, 404);

    const mounted = await serve({ schema, basePath: "/outbox" });
    const html = await (await fetch(`${mounted.url}/outbox/`)).text();
    assert.match(html, /<base href="\/outbox\/">/);
    assert.equal((await fetch(`${mounted.url}/outbox`)).status, 200);
    assert.equal((await fetch(`${mounted.url}/outbox/assets/app.js`)).status, 200);
    assert.equal((await fetch(`${mounted.url}/outbox/api/session`)).status, 200);
    assert.equal((await fetch(`${mounted.url}/api/session`)).status, 404);
    assert.equal((await fetch(`${mounted.url}/outboxes/api/session`)).status, 404);
  });

  it("sends the security headers on every answer, and no CORS header", async () => {
    const served = await serve({ schema, auth: { token: "t" } });
    const bearer = { authorization: "Bearer t" };
    const answers = [
      await fetch(`${served.url}/`, { headers: bearer }),
      await fetch(`${served.url}/assets/app.js`, { headers: bearer }),
      await fetch(`${served.url}/api/session`, { headers: bearer }),
      await fetch(`${served.url}/api/nothing`, { headers: bearer }),
      await fetch(`${served.url}/api/session`),
      await fetch(`${served.url}/api/actions/purge`, { method: "POST", headers: bearer }),
      await fetch(`${served.url}/api/jobs?state=bogus`, { headers: { ...bearer, origin: "https://evil.example" } }),
    ];
    assert.deepEqual(
      answers.map((answer) => answer.status),
      [200, 200, 200, 404, 401, 403, 400],
    );
    for (const answer of answers) {
      assert.equal(
        answer.headers.get("content-security-policy"),
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
          "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
      );
      assert.equal(answer.headers.get("x-content-type-options"), "nosniff");
      assert.equal(answer.headers.get("referrer-policy"), "no-referrer");
      assert.equal(answer.headers.get("x-frame-options"), "DENY");
      for (const [name] of answer.headers) assert.ok(!name.startsWith("access-control-"), name);
      await answer.arrayBuffer();
    }
  });

  it("serves the built UI from dist/dashboard/assets/ when run from src/", async () => {
    const handler = dashboardHandler(db.pool, { schema, basePath: "/ops", logger: quiet });
    try {
      const page = await handler(new Request("http://localhost/ops/"));
      assert.equal(page.status, 200, "the UI is built (npm run build)");
      assert.match(await page.text(), /<base href="\/ops\/" ?\/?>/);
      assert.equal((await handler(new Request("http://localhost/ops/assets/app.js"))).status, 200);
    } finally {
      handler.close();
    }
  });

  it("takes a body that a parser read before it (Express with express.json())", async () => {
    const handler = createDashboardHandler(db.pool, { schema, logger: quiet }, assetsUrl);
    const listener = toNodeListener(handler);
    const server = createServer((request, response) => {
      let text = "";
      request.setEncoding("utf8");
      request.on("data", (chunk) => {
        text += chunk;
      });
      request.on("end", () => {
        (request as { body?: unknown }).body = text ? JSON.parse(text) : {};
        (request as { originalUrl?: string }).originalUrl = request.url;
        request.url = "/mounted-elsewhere";
        listener(request, response);
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const session = await getJson(`${url}/api/session`);
      const answer = await getJson(`${url}/api/actions/cancel`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-poutbox-csrf": String(session.body.csrfToken) },
        body: JSON.stringify({ ids: ["1"], preview: true }),
      });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.count, 0);
    } finally {
      handler.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("is the package's poutbox/dashboard", async () => {
    const entry = await import("poutbox/dashboard");
    assert.deepEqual(Object.keys(entry).sort(), ["actionNames", "dashboardHandler", "jobStates", "toNodeListener"]);
  });

  it("answers HEAD like GET, without a body", async () => {
    const served = await serve({ schema });
    const head = await fetch(`${served.url}/api/session`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    assert.equal(head.headers.get("x-frame-options"), "DENY");
  });

  it("refuses wrong options", () => {
    assert.throws(() => dashboardHandler(db.pool, { basePath: "outbox" }), /basePath/);
    assert.throws(() => dashboardHandler(db.pool, { basePath: "/a/../b" }), /basePath/);
    assert.throws(() => dashboardHandler(db.pool, { schema: "no such" }), /schema/);
    assert.throws(() => dashboardHandler(db.pool, { sampleInterval: 0 }), /sampleInterval/);
    assert.throws(() => dashboardHandler(db.pool, { auth: { token: "" } }), /auth.token/);
    assert.throws(
      () => dashboardHandler(db.pool, { auth: { basic: { username: "a:b", password: "c" } } }),
      /auth.basic.username/,
    );
    assert.throws(() => dashboardHandler(db.pool, { allowedHosts: "x" as never }), /allowedHosts/);
    assert.throws(() => dashboardHandler(db.pool, { allowedHosts: ["a b"] }), /allowedHosts/);
    dashboardHandler(db.pool, { basePath: "/outbox/" }).close();
  });
});

describe("dashboard: one consumer's dead letter, exact confirmations, hosts, streams", () => {
  let schema: string;
  let client: Client;
  let served: Served;

  before(async () => {
    ({ schema, client } = await db.freshSchema("dash_exact"));
    await runWorkload(db, schema, client);
    served = await serve({ schema });
  });

  /** Makes the dead letter (mailer, id) a dead letter of `consumer` as well. */
  async function deadFor(consumer: string, id: string): Promise<void> {
    await db.pool.query(
      `INSERT INTO "${schema}".dead_letter
         SELECT (jsonb_populate_record(d, jsonb_build_object('consumer', $2::text))).*
         FROM "${schema}".dead_letter d WHERE consumer = 'mailer' AND id = $1`,
      [id, consumer],
    );
  }

  const deadRows = async () =>
    (await jobs(served, "state=dead&limit=500")).map((job) => `${job.consumer}/${job.id}`).sort();

  it("acts by id on the dead letter of the consumer given, not on the same id of another consumer", async () => {
    const [first] = await jobs(served, "state=dead&consumer=mailer");
    const id = first?.id as string;
    await deadFor("billing", id);
    const before = await deadRows();
    assert.ok(before.includes(`billing/${id}`) && before.includes(`mailer/${id}`));
    const without = await act(served, "purge", { ids: [id] });
    assert.equal(without.status, 400, JSON.stringify(without.body));
    assert.match(String(without.body.error), /consumer: required with ids/);
    const preview = await act(served, "purge", { ids: [id], consumer: "billing", preview: true });
    assert.equal(preview.body.count, 1);
    const purged = await act(served, "purge", { ids: [id], consumer: "billing", expect: preview.body.expect });
    assert.equal(purged.status, 200, JSON.stringify(purged.body));
    assert.equal(purged.body.count, 1);
    assert.deepEqual(
      await deadRows(),
      before.filter((row) => row !== `billing/${id}`),
    );
    // As pairs, as the UI sends them: mailer's goes back to mailer, billing's stays dead.
    await deadFor("billing", id);
    const requeued = await act(served, "requeue", { jobs: [{ consumer: "mailer", id }] });
    assert.equal(requeued.status, 200, JSON.stringify(requeued.body));
    assert.equal(requeued.body.count, 1);
    assert.deepEqual(
      await deadRows(),
      before.filter((row) => row !== `mailer/${id}`),
    );
    const bad = await act(served, "purge", { jobs: [{ id }] });
    assert.equal(bad.status, 400);
    await act(served, "purge", { ids: [id], consumer: "billing" });
  });

  it("answers 409 and changes nothing when the selection changed since its preview", async () => {
    const scheduled = async () => (await jobs(served, "state=scheduled")).map((job) => job.id);
    const before = await scheduled();
    const preview = await act(served, "cancel", { filter: {}, preview: true });
    assert.equal(preview.body.count, before.length);
    const added = String(await client.enqueue("scheduled too", { runAt: new Date(Date.now() + 3_600_000) }));
    const refused = await act(served, "cancel", { filter: {}, expect: preview.body.expect });
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.match(String(refused.body.error), /the selection changed since its preview/);
    assert.deepEqual((await scheduled()).sort(), [...before, added].sort(), "nothing cancelled");
    // Previewed again, it acts on exactly what it counted.
    const again = await act(served, "cancel", { filter: {}, preview: true });
    const done = await act(served, "cancel", { filter: {}, expect: again.body.expect });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.count, before.length + 1);
    const wrong = await act(served, "cancel", { filter: {}, expect: { count: "x" } });
    assert.equal(wrong.status, 400);
  });

  it("answers 409 and changes nothing when a key's head is not the one previewed", async () => {
    const preview = await act(served, "skip-key", { consumer: "mailer", key: "order-1", preview: true });
    const head = preview.body.expectedHead as string;
    assert.ok(head);
    const other = String(BigInt(head) + 1000n);
    for (const action of ["skip-key", "retry-key"]) {
      const refused = await act(served, action, { consumer: "mailer", key: "order-1", expectedHead: other });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.match(String(refused.body.error), /changed since its preview/);
      const still = await act(served, "skip-key", { consumer: "mailer", key: "order-1", preview: true });
      assert.deepEqual([still.body.expectedHead, (still.body.head as { state: string }).state], [head, "retry"]);
    }
    const done = await act(served, "retry-key", { consumer: "mailer", key: "order-1", expectedHead: head });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.deepEqual(done.body.ids, [head]);
  });

  it("without auth, answers loopback Host names and allowedHosts only (421 otherwise)", async () => {
    const port = new URL(served.url).port;
    assert.equal(await rawGet(served.url, "/api/session", { host: `localhost:${port}` }), 200);
    assert.equal(await rawGet(served.url, "/api/session", { host: `127.0.0.2:${port}` }), 200);
    assert.equal(await rawGet(served.url, "/api/session", { host: `[::1]:${port}` }), 200);
    assert.equal(await rawGet(served.url, "/api/session", { host: `[::ffff:127.0.0.1]:${port}` }), 200);
    assert.equal(await rawGet(served.url, "/api/session", { host: `evil.example:${port}` }), 421);
    assert.equal(await rawGet(served.url, "/", { host: "evil.example" }), 421);
    assert.equal(await rawGet(served.url, "/api/session", { host: `127.0.0.1.evil.example:${port}` }), 421);
    const allowing = await serve({ schema, allowedHosts: ["Outbox.Internal"] });
    const allowingPort = new URL(allowing.url).port;
    assert.equal(await rawGet(allowing.url, "/api/session", { host: `outbox.internal:${allowingPort}` }), 200);
    assert.equal(await rawGet(allowing.url, "/api/session", { host: `evil.example:${allowingPort}` }), 421);
    const guarded = await serve({ schema, auth: { token: "tok" } });
    const headers = { host: "outbox.example", authorization: "Bearer tok" };
    assert.equal(await rawGet(guarded.url, "/api/session", headers), 200, "with auth, any Host");
  });

  it("refuses a path that names another host, and compares Origin with the Host header's", async () => {
    const session = await getJson(`${served.url}/api/session`);
    const { hostname, port } = new URL(served.url);
    const post = (path: string, origin: string) =>
      new Promise<number>((resolve, reject) => {
        const request = httpRequest(
          {
            hostname,
            port,
            path,
            method: "POST",
            headers: {
              host: `${hostname}:${port}`,
              origin,
              "content-type": "application/json",
              "x-poutbox-csrf": String(session.body.csrfToken),
            },
          },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        );
        request.on("error", reject);
        request.end(JSON.stringify({ filter: {}, preview: true }));
      });
    assert.equal(await post("//evil.example/api/actions/purge", "http://evil.example"), 400);
    assert.equal(await post("/api/actions/purge", "http://evil.example"), 403);
    assert.equal(await post("/api/actions/purge", `http://${hostname}:${port}`), 200);
  });

  it("ends the event stream of a client that reads nothing", { timeout: 120_000 }, async () => {
    const handler = createDashboardHandler(db.pool, { schema, logger: quiet, sampleInterval: 100 }, assetsUrl);
    const listener = toNodeListener(handler);
    let ended: (() => void) | undefined;
    const closed = new Promise<void>((resolve) => {
      ended = resolve;
    });
    const server = createServer((req, res) => {
      res.on("close", () => ended?.());
      listener(req, res);
    });
    // A Unix socket: its buffers are small, so that a client that reads nothing holds the
    // server's writes back after a few events (on TCP's loopback, after megabytes).
    const socketPath = join(mkdtempSync(join(tmpdir(), "poutbox-dashboard-")), "socket");
    server.listen(socketPath);
    await once(server, "listening");
    const request = httpRequest({ socketPath, path: "/api/events", headers: { host: "localhost" } });
    request.on("response", () => {}); // Never read.
    request.on("error", () => {});
    request.end();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        closed,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error("the stream of a client that reads nothing was not ended")),
            90_000,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      request.destroy();
      handler.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("refuses an event stream once closed (503)", async () => {
    const closing = await serve({ schema });
    assert.equal((await getJson(`${closing.url}/api/session`)).status, 200);
    closing.handler.close();
    const response = await fetch(`${closing.url}/api/events`);
    assert.equal(response.status, 503);
    await response.body?.cancel();
  });
});

/** GET with the path sent as it is written (fetch would resolve the dots). */
async function rawGet(base: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ hostname, port, path, method: "GET", headers }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on("error", reject);
    request.end();
  });
}

describe("poutbox dashboard (the command)", () => {
  it("tells loopback addresses", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"]) {
      assert.ok(isLoopback(host), host);
    }
    for (const host of ["0.0.0.0", "::", "10.0.0.1", "example.com", "128.0.0.1", "::ffff:10.0.0.1"]) {
      assert.ok(!isLoopback(host), host);
    }
  });

  it("refuses to listen on 0.0.0.0 without --token or --basic (exit status 2)", async () => {
    for (const args of [
      ["--host", "0.0.0.0"],
      ["--host", "::"],
      ["--host", "10.1.2.3", "--read-only"],
    ]) {
      const child = spawn(process.execPath, ["dist/cli/main.js", "dashboard", "--port", "0", ...args], {
        env: { ...process.env, DATABASE_URL: db.url, NO_COLOR: "1", POUTBOX_DASHBOARD_TOKEN: undefined },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const ended = await outputOf(child);
      assert.equal(ended.code, 2, `${args.join(" ")}: ${ended.stderr}`);
      assert.match(ended.stderr, /refusing to serve the dashboard on \S+ without authentication/);
    }
  });

  it("without authentication, answers loopback names only (no DNS rebinding)", async () => {
    const { schema } = await db.freshSchema("dash_cli_open");
    const child = spawn(process.execPath, ["dist/cli/main.js", "dashboard", "--schema", schema, "--port", "0"], {
      env: { ...process.env, DATABASE_URL: db.url, NO_COLOR: "1", POUTBOX_DASHBOARD_TOKEN: undefined },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const output = outputOf(child);
    let stdout = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    try {
      const url = await waitFor(() => /^(http:\/\/\S+\/)$/m.exec(stdout)?.[1], { what: "the printed address" });
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const port = new URL(url).port;
      assert.equal((await fetch(`${url}api/session`)).status, 200);
      // The built UI, from dist/dashboard/assets/ beside the built module.
      const page = await fetch(url);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<base href="\/" ?\/?>/);
      assert.equal((await fetch(`${url}assets/app.js`)).status, 200);
      assert.equal(await rawGet(url, "/api/session", { host: `localhost:${port}` }), 200);
      assert.equal(await rawGet(url, "/api/session", { host: `evil.example:${port}` }), 421);
      assert.equal(await rawGet(url, "/api/session", { host: "evil.example" }), 421);
    } finally {
      child.kill("SIGTERM");
    }
    const ended = await output;
    assert.equal(ended.code, 0, ended.stderr);
  });

  it("serves with a token on 0.0.0.0 and stops on SIGTERM", async () => {
    const { schema } = await db.freshSchema("dash_cli");
    const child = spawn(
      process.execPath,
      ["dist/cli/main.js", "dashboard", "--schema", schema, "--port", "0", "--host", "0.0.0.0", "--token", "tok"],
      { env: { ...process.env, DATABASE_URL: db.url, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    const output = outputOf(child);
    let stdout = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    try {
      const url = await waitFor(() => /^(http:\/\/\S+\/)$/m.exec(stdout)?.[1], { what: "the printed address" });
      const port = new URL(url).port;
      const local = `http://127.0.0.1:${port}`;
      assert.equal((await fetch(`${local}/api/session`)).status, 401);
      const session = await getJson(`${local}/api/session`, { headers: { authorization: "Bearer tok" } });
      assert.equal(session.body.schema, schema);
    } finally {
      child.kill("SIGTERM");
    }
    const ended = await output;
    assert.equal(ended.code, 0, ended.stderr);
  });
});
