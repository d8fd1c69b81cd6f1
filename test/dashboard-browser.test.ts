// The dashboard in a real browser (headless Chromium) against a real PostgreSQL: every page
// renders the outbox's data, search finds jobs, requeue/purge/cancel preview then act, a
// read-only dashboard offers no change and its server refuses one, user data stays text, and a
// token is required when one is set. Screenshots of each page go to docs/dashboard/.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "playwright-core";
import { type DashboardHandler, dashboardHandler, toNodeListener } from "../src/dashboard/index.js";
import { Consumer, listDeadLetters, silentLogger, status } from "../src/index.js";
import { launchChromium } from "./support/browser.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();
const xss = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`;
// docs/dashboard/'s screenshots are taken anew with POUTBOX_DASHBOARD_SCREENSHOTS=1; otherwise
// they go to a temporary folder, so that a test run leaves the work tree as it was.
const screenshots = process.env.POUTBOX_DASHBOARD_SCREENSHOTS
  ? new URL("../docs/dashboard/", import.meta.url)
  : pathToFileURL(`${mkdtempSync(join(tmpdir(), "poutbox-dashboard-"))}/`);

let schema = "";
let browser: Browser;
const handlers: DashboardHandler[] = [];
const servers: Server[] = [];
const consumers: Consumer[] = [];

/** Serves a dashboard on a free port of 127.0.0.1; its address, with the mount path. */
async function serve(options: Parameters<typeof dashboardHandler>[1]): Promise<string> {
  const handler = dashboardHandler(db.pool, { schema, sampleInterval: 250, logger: silentLogger, ...options });
  handlers.push(handler);
  const server = createServer(toNodeListener(handler));
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}${options?.basePath ?? ""}/`;
}

async function openPage(url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => {
    // A CSP violation, or any script error, is a failure of the UI; an HTTP error status is not
    // (the tests check the answers that matter).
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      problems.push(`${message.text()} ${message.location().url}`);
    }
  });
  (page as Page & { problems: string[] }).problems = problems;
  await page.goto(url);
  return page;
}

/** Waits for a selector; on a timeout, fails with what the page shows and what went wrong in it. */
async function shown(page: Page, selector: string): Promise<void> {
  try {
    await page.locator(selector).first().waitFor({ timeout: 20_000 });
  } catch (error) {
    const body = await page
      .locator("body")
      .innerText()
      .catch(() => "(no body)");
    throw new Error(
      `${selector} not shown at ${page.url()}: ${(error as Error).message}\npage: ${body.slice(0, 2000)}\nproblems: ${problemsOf(page).join("\n")}`,
    );
  }
}

/** Waits until the results table has `count` rows; on a timeout, fails with what the page shows. */
async function expectRows(page: Page, count: number): Promise<void> {
  const listed = page.locator("table.jobs tbody tr");
  try {
    await waitFor(async () => (await listed.count()) === count, { timeout: 20_000, what: `${count} rows` });
  } catch (error) {
    const body = await page
      .locator("main")
      .innerText()
      .catch(() => "(no main)");
    throw new Error(`${(error as Error).message} at ${page.url()}\npage: ${body.slice(0, 2000)}`);
  }
}

function problemsOf(page: Page): string[] {
  return (page as Page & { problems: string[] }).problems;
}

async function deadIds(): Promise<string[]> {
  return (await listDeadLetters(db.pool, { schema, limit: 1000 })).map((each) => String(each.id));
}

let base = "";
let readOnlyBase = "";

describe("dashboard in a browser", { timeout: 180_000 }, () => {
  // In the describe, so that they run after useTestDatabase's own hook has made the database.
  before(async () => {
    const fresh = await db.freshSchema("dash");
    schema = fresh.schema;
    const { client } = fresh;
    // Delivered: mailer and billing both get these.
    for (let n = 0; n < 5; n++)
      await client.enqueue({ order: n, email: `ada${n}@example.com` }, { topic: "order.created" });
    // Dead letters of mailer: its handler fails every job of order.failed and xss.topic, which
    // have one attempt.
    for (let n = 0; n < 3; n++) {
      await client.enqueue({ order: n, note: `needle-${n}` }, { topic: "order.failed", maxAttempts: 1 });
    }
    await client.enqueue(xss, {
      topic: "xss.topic",
      maxAttempts: 1,
      headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
    });
    // A blocked key of billing (ordering by key): its head dead-lettered, one job waiting behind it.
    await client.enqueue({ account: 7, step: 1 }, { topic: "billing.charge", key: "acct-7", maxAttempts: 1 });
    await client.enqueue({ account: 7, step: 2 }, { topic: "billing.charge", key: "acct-7" });
    // Scheduled for tomorrow.
    const tomorrow = new Date(Date.now() + 86_400_000);
    for (let n = 0; n < 2; n++) await client.enqueue({ remind: n }, { topic: "reminder", runAt: tomorrow });

    // What the consumers warn of, kept to say why the dead letters did not come if they do not.
    const said: string[] = [];
    const logger = (name: string) => ({
      warn: (message: string) => said.push(`${name} warn: ${message}`),
      error: (message: string) => said.push(`${name} error: ${message}`),
    });
    const mailer = new Consumer(
      db.pool,
      async (jobs) =>
        jobs
          .filter((job) => job.topic === "order.failed" || job.topic === "xss.topic")
          .map((job) => ({ job, error: `mailer cannot handle <b>${job.topic}</b>` })),
      { name: "mailer", schema, pollInterval: 50, logger: logger("mailer") },
    );
    const billing = new Consumer(
      db.pool,
      async (jobs) => jobs.filter((job) => job.key === "acct-7").map((job) => ({ job, error: "card declined" })),
      { name: "billing", schema, pollInterval: 50, ordering: "key", logger: logger("billing") },
    );
    consumers.push(mailer, billing);
    await mailer.start();
    await billing.start();
    try {
      await waitFor(async () => (await deadIds()).length === 5, { what: "5 dead letters" });
    } catch (error) {
      const dead = await listDeadLetters(db.pool, { schema, limit: 1000 });
      const { rows: progress } = await db.pool.query(
        `SELECT name, snapshot::text, leader_epoch::text, leader_id FROM "${schema}".consumers ORDER BY name`,
      );
      const { rows: failed } = await db.pool.query(
        `SELECT consumer, id::text, attempt, key_state, next_retry_at::text FROM "${schema}".failed ORDER BY id`,
      );
      throw new Error(
        `${(error as Error).message}: dead letters ${JSON.stringify(dead.map((each) => [each.consumer, each.topic]))}, ` +
          `consumers ${JSON.stringify(progress)}, failed ${JSON.stringify(failed)}, ` +
          `leaders: mailer ${mailer.isLeader}, billing ${billing.isLeader}; failures ${mailer.failure}, ${billing.failure}; ` +
          `the consumers said: ${said.join(" | ") || "nothing"}`,
        { cause: error },
      );
    }
    // mailer stops (so that it can be moved, and requeued jobs wait for it); billing keeps running.
    await mailer.stop();
    base = await serve({ basePath: "/ops/outbox" });
    readOnlyBase = await serve({ readOnly: true });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    for (const handler of handlers) handler.close();
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
    for (const consumer of consumers) await consumer.stop();
  });

  it("overview: figures, charts that fill with samples, consumers, partitions", async () => {
    const page = await openPage(base);
    await shown(page, '[data-page="overview"]');
    const text = await page.locator("main").innerText();
    assert.match(text, /Dead letters\s*5/i);
    assert.match(text, /Scheduled\s*2/i);
    assert.ok(await page.locator('tr[data-consumer="mailer"]').isVisible());
    assert.ok(await page.locator('tr[data-consumer="billing"]').isVisible());
    assert.match(text, /Partitions of the delivery table/);
    assert.equal(await page.locator(".chart .uplot canvas").count(), 4, "four uPlot charts");
    // Live: the event stream is open, and samples arrive without a reload.
    await page.locator(".badge-live", { hasText: "live" }).waitFor();
    await waitFor(async () => (await page.locator(".chart p.muted").count()) === 0, { what: "samples in the charts" });
    await page.waitForTimeout(1500);
    await page.screenshot({ path: new URL("overview.png", screenshots).pathname });
    assert.deepEqual(problemsOf(page), []);
    await page.close();
  });

  it("consumers: position, leader, blocked keys with retry and skip, move", async () => {
    const page = await openPage(`${base}#/consumers`);
    await shown(page, 'article[data-consumer="billing"]');
    const billing = page.locator('article[data-consumer="billing"]');
    const mailer = page.locator('article[data-consumer="mailer"]');
    assert.match(await billing.innerText(), /pid \d+, epoch \d+/);
    assert.match(await mailer.innerText(), /Leader\s*none/);
    await billing.locator('tr[data-key="acct-7"]').waitFor();
    assert.match(await billing.locator('tr[data-key="acct-7"]').innerText(), /card declined/);
    assert.ok(await billing.locator('[data-action="retry-key"]').isVisible());
    assert.ok(await billing.locator('[data-action="skip-key"]').isVisible());
    assert.ok(await billing.locator('[data-action="move"]').isDisabled(), "a running consumer cannot be moved");
    await page.screenshot({ path: new URL("consumers.png", screenshots).pathname });

    // Move the stopped mailer to "now": a form, a preview, a confirmation.
    await mailer.locator('[data-action="move"]').click();
    await page.locator("dialog.confirm input[name=reason]").fill("skip the backlog <b>test</b>");
    await page.locator("dialog.confirm [data-confirm]").click();
    await page.locator("dialog.confirm", { hasText: "Preview checked" }).waitFor();
    await page.locator("dialog.confirm [data-confirm]").click();
    await page.locator(".notice-done", { hasText: "Moved mailer" }).waitFor();
    await mailer.locator("dd", { hasText: "skip the backlog <b>test</b>" }).waitFor();
    assert.deepEqual(problemsOf(page), []);
    await page.close();
  });

  it("jobs: search by payload text and by topic, then a job's detail", async () => {
    const page = await openPage(`${base}#/jobs`);
    await shown(page, "form.search");
    await page.locator("form.search select[name=state]").selectOption("dead");
    await page.locator("form.search input[name=q]").fill("needle-1");
    await page.locator("form.search button[type=submit]").click();
    await expectRows(page, 1);
    assert.match(await page.locator("table.jobs tbody tr").innerText(), /needle-1/);
    assert.match(page.url(), /#\/jobs\?state=dead&q=needle-1/);

    await page.goto(`${base}#/jobs?state=scheduled&topic=reminder`);
    await expectRows(page, 2);

    await page.goto(`${base}#/jobs?state=dead`);
    await expectRows(page, 5);
    await page.screenshot({ path: new URL("jobs.png", screenshots).pathname });
    assert.deepEqual(problemsOf(page), []);
    await page.close();
  });

  it("a hostile payload, topic and error stay text", async () => {
    const page = await openPage(`${base}#/jobs?state=dead&topic=xss.topic`);
    const row = page.locator("table.jobs tbody tr");
    await expectRows(page, 1);
    assert.match(await row.innerText(), /<script>window.__xss=1<\/script>/);
    assert.match(await row.innerText(), /mailer cannot handle <b>xss.topic<\/b>/);
    await row.locator("a").first().click();
    const payload = page.locator('[data-field="payload"]');
    await payload.waitFor();
    assert.equal(await payload.innerText(), xss);
    assert.equal(await page.locator('[data-field="trace-id"]').innerText(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.match(await page.locator('[data-field="last-error"]').innerText(), /<b>xss.topic<\/b>/);
    assert.equal(await page.locator("main img").count(), 0);
    assert.equal(await page.locator("main script").count(), 0);
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => (globalThis as { __xss?: number }).__xss), undefined);
    await page.screenshot({ path: new URL("job.png", screenshots).pathname });
    assert.deepEqual(problemsOf(page), []);
    await page.close();
  });

  it("cancel a scheduled job from its page, after a preview", async () => {
    const page = await openPage(`${base}#/jobs?state=scheduled&topic=reminder`);
    const rows = page.locator("table.jobs tbody tr");
    await expectRows(page, 2);
    const id = (await rows.first().getAttribute("data-job-id")) as string;
    await rows.first().locator("a").first().click();
    await page.locator('[data-action="cancel"]').click();
    await page.locator("dialog.confirm [data-preview-count='1']").waitFor();
    assert.equal((await status(db.pool, { schema })).tables.scheduled.rows, 2, "the preview changed nothing");
    await page.locator("dialog.confirm [data-confirm]").click();
    await page.locator(".notice-done", { hasText: "1 job done" }).waitFor();
    assert.equal((await status(db.pool, { schema })).tables.scheduled.rows, 1);
    const left = await db.pool.query(`SELECT id::text FROM ${schema}.scheduled`);
    assert.notEqual(left.rows[0]?.id, id);
    assert.deepEqual(problemsOf(page), []);
    await page.close();
  });

  it("requeue the selected dead letters, and purge every one that matches, each after a preview", async () => {
    const page = await openPage(`${base}#/jobs?state=dead&topic=order.failed`);
    const rows = page.locator("table.jobs tbody tr");
    await expectRows(page, 3);
    const picked = [
      (await rows.nth(0).getAttribute("data-job-id")) as string,
      (await rows.nth(1).getAttribute("data-job-id")) as string,
    ];
    for (const id of picked) await page.locator(`tr[data-job-id="${id}"] input[type=checkbox]`).check();
    await page.locator('[data-bulk-action="requeue"][data-scope="selected"]').click();
    await page.locator("dialog.confirm [data-preview-count='2']").waitFor();
    assert.equal((await deadIds()).length, 5, "the preview changed nothing");
    await page.locator("dialog.confirm [data-confirm]").click();
    await page.locator(".notice-done", { hasText: "2 jobs done" }).waitFor();
    const dead = await deadIds();
    assert.ok(
      picked.every((id) => !dead.includes(id)),
      "the requeued jobs left dead_letter",
    );
    await expectRows(page, 1);

    // Purge every dead letter of topic xss.topic (a filter, not ids).
    await page.goto(`${base}#/jobs?state=dead&topic=xss.topic`);
    await expectRows(page, 1);
    await page.locator('[data-bulk-action="purge"][data-scope="all"]').click();
    await page.locator("dialog.confirm [data-preview-count='1']").waitFor();
    await page.locator("dialog.confirm [data-confirm]").click();
    await page.locator(".notice-done", { hasText: "1 job done" }).waitFor();
    assert.equal((await deadIds()).length, 2);
    await page.locator("[data-empty]").waitFor();
    assert.deepEqual(problemsOf(page), []);
    await page.close();
  });

  it("read-only: no control that changes anything, and the server refuses a change", async () => {
    const page = await openPage(`${readOnlyBase}#/jobs?state=dead`);
    await page.locator("table.jobs tbody tr").first().waitFor();
    assert.ok(await page.locator("[data-read-only]").isVisible());
    assert.equal(await page.locator("[data-bulk]").count(), 0);
    assert.equal(await page.locator("table.jobs input[type=checkbox]").count(), 0);
    await page.locator("table.jobs tbody tr a").first().click();
    await page.locator('[data-field="payload"]').waitFor();
    assert.equal(await page.locator("[data-action]").count(), 0);
    await page.goto(`${readOnlyBase}#/consumers`);
    await page.locator('article[data-consumer="billing"] tr[data-key="acct-7"]').waitFor();
    assert.equal(await page.locator("[data-action]").count(), 0, "no move, retry or skip");

    const answer = await page.evaluate(async () => {
      const session = (await (await fetch("api/session")).json()) as { csrfToken: string };
      const response = await fetch("api/actions/purge", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Poutbox-CSRF": session.csrfToken },
        body: JSON.stringify({ filter: {} }),
      });
      return { status: response.status, body: (await response.json()) as { error: string } };
    });
    assert.equal(answer.status, 403);
    assert.match(answer.body.error, /read-only/);
    assert.equal((await deadIds()).length, 2, "nothing purged");
    assert.deepEqual(problemsOf(page), []);
    await page.close();
  });

  it("a POST without the CSRF token is refused", async () => {
    const page = await openPage(base);
    await shown(page, '[data-page="overview"]');
    const status = await page.evaluate(async () => {
      const response = await fetch("api/actions/purge", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ filter: {} }),
      });
      return response.status;
    });
    assert.equal(status, 403);
    assert.equal((await deadIds()).length, 2);
    await page.close();
  });

  it("with a token: 401 without it; the page works once it is given", async () => {
    const secured = await serve({ auth: { token: "s3cret-token" } });
    const bare = await fetch(secured);
    assert.equal(bare.status, 401);
    assert.equal((await fetch(`${secured}api/overview`)).status, 401);
    const page = await openPage(`${secured}?token=s3cret-token`);
    await shown(page, '[data-page="overview"]');
    assert.doesNotMatch(page.url(), /token=/, "the token leaves the address");
    await page.locator(".badge-live", { hasText: "live" }).waitFor();
    assert.deepEqual(problemsOf(page), []);
    await page.close();
  });

  it("a job dead for two consumers: the list and the job's page act on the row's consumer only", async () => {
    const [one] = (await listDeadLetters(db.pool, { schema, consumer: "mailer", limit: 10 })).filter(
      (each) => each.topic === "order.failed",
    );
    assert.ok(one, "a dead letter of mailer left");
    const id = String(one.id);
    await deadFor(id, "mailer", "billing");
    assert.deepEqual(await deadOf(id), ["billing", "mailer"]);

    // Filtered to mailer, the row ticked and requeued: billing's dead letter stays.
    const page = await openPage(`${base}#/jobs?state=dead&consumer=mailer&topic=order.failed`);
    await expectRows(page, 1);
    await page.locator(`tr[data-job-id="${id}"] input[type=checkbox]`).check();
    await page.locator('[data-bulk-action="requeue"][data-scope="selected"]').click();
    await page.locator("dialog.confirm [data-preview-count='1']").waitFor();
    await page.locator("dialog.confirm [data-confirm]").click();
    await page.locator(".notice-done", { hasText: "1 job done" }).waitFor();
    assert.deepEqual(await deadOf(id), ["billing"]);

    // Both again; billing's row's page purges billing's only.
    await deadFor(id, "billing", "mailer");
    await page.goto(`${base}#/jobs?state=dead&topic=order.failed`);
    await expectRows(page, 2);
    await page.locator(`tr[data-job-id="${id}"][data-consumer="billing"] a`).first().click();
    await page.locator('[data-action="purge"]').waitFor();
    assert.match(page.url(), /#\/jobs\/dead\/\d+\?consumer=billing$/);
    await page.locator('[data-action="purge"]').click();
    await page.locator("dialog.confirm [data-preview-count='1']").waitFor();
    await page.locator("dialog.confirm [data-confirm]").click();
    await page.locator(".notice-done", { hasText: "1 job done" }).waitFor();
    assert.deepEqual(await deadOf(id), ["mailer"]);
    assert.deepEqual(problemsOf(page), []);
    await page.close();
  });

  it("a confirmation refused (409, nothing done) when the selection changed since its preview", async () => {
    const [one] = (await listDeadLetters(db.pool, { schema, consumer: "mailer", limit: 10 })).filter(
      (each) => each.topic === "order.failed",
    );
    const id = String(one?.id);
    const page = await openPage(`${base}#/jobs?state=dead&topic=order.failed`);
    await expectRows(page, 1);
    await page.locator('[data-bulk-action="purge"][data-scope="all"]').click();
    await page.locator("dialog.confirm [data-preview-count='1']").waitFor();
    await deadFor(id, "mailer", "billing");
    await page.locator("dialog.confirm [data-confirm]").click();
    await page.locator(".notice-error", { hasText: "changed since its preview" }).waitFor();
    assert.deepEqual(await deadOf(id), ["billing", "mailer"], "nothing purged");
    await page.close();
  });

  it("a malformed address shows a page that says so", async () => {
    const page = await openPage(`${base}#/jobs/dead/%E0%A4%A`);
    await shown(page, "[data-not-found]");
    assert.deepEqual(problemsOf(page), []);
    await page.close();
  });
});

/** Makes the dead letter (from, id) a dead letter of `to` as well. */
async function deadFor(id: string, from: string, to: string): Promise<void> {
  await db.pool.query(
    `INSERT INTO "${schema}".dead_letter
       SELECT (jsonb_populate_record(d, jsonb_build_object('consumer', $3::text))).*
       FROM "${schema}".dead_letter d WHERE consumer = $2 AND id = $1`,
    [id, from, to],
  );
}

/** The consumers for which job `id` is a dead letter. */
async function deadOf(id: string): Promise<string[]> {
  const { rows } = await db.pool.query(`SELECT consumer FROM "${schema}".dead_letter WHERE id = $1 ORDER BY consumer`, [
    id,
  ]);
  return rows.map((row) => row.consumer as string);
}
