import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { ConsumerMode } from "../../src/index.js";
import { onAbandon } from "./abandon.js";
import { waitFor } from "./wait-for.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

export interface ChildOptions {
  /** The database the child connects to. */
  readonly url: string;
  readonly mode?: ConsumerMode;
  readonly schema: string;
  readonly name: string;
  readonly sink: string;
  readonly sleep?: number;
  readonly batchSize?: number;
  readonly leaderTimeout?: number;
  readonly takeoverInterval?: number;
  readonly applicationName?: string;
  /** More flags for test/support/consumer-process.ts, e.g. ["--handler", "chaos"]. */
  readonly flags?: readonly string[];
}

export interface Line {
  readonly at: number;
  readonly text: string;
}

/** A consumer in a child process (test/support/consumer-process.ts) and what it printed. */
export class ConsumerProcess {
  readonly label: string;
  readonly sink: string;
  readonly child: ChildProcess;
  readonly lines: Line[] = [];
  readonly closed: Promise<void>;
  #stderr = "";

  constructor(label: string, options: ChildOptions) {
    this.label = label;
    this.sink = options.sink;
    const args = [
      "--import",
      "tsx",
      "test/support/consumer-process.ts",
      "--database",
      options.url,
      "--sink",
      options.sink,
      "--schema",
      options.schema,
      "--name",
      options.name,
      "--sleep",
      String(options.sleep ?? 0),
      "--batch-size",
      String(options.batchSize ?? 10),
      "--leader-timeout",
      String(options.leaderTimeout ?? 2000),
      "--takeover-interval",
      String(options.takeoverInterval ?? 100),
      "--poll-interval",
      "5",
      "--mode",
      options.mode ?? "polling",
    ];
    if (options.applicationName) args.push("--application-name", options.applicationName);
    args.push(...(options.flags ?? []));
    this.child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on("line", (text) =>
      this.lines.push({ at: Date.now(), text }),
    );
    this.child.stderr?.on("data", (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
    this.closed = new Promise((resolve) => {
      this.child.once("close", () => resolve());
      this.child.once("error", () => resolve());
    });
    // Not left running should its test's file be stopped before the test destroys it.
    const forget = onAbandon(() => this.destroy());
    void this.closed.then(forget);
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** The prefix of the `leader_id` this process's consumer writes. */
  get leaderIdPrefix(): string {
    return `${hostname()}:${this.pid}:`;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Lines from index `from` on that start with `prefix`. */
  linesFrom(prefix: string, from = 0): Line[] {
    return this.lines.slice(from).filter((line) => line.text === prefix || line.text.startsWith(`${prefix} `));
  }

  has(prefix: string): boolean {
    return this.linesFrom(prefix).length > 0;
  }

  /** True while the handler is inside a batch (it printed BATCH and not yet BATCH_DONE). */
  get inBatch(): boolean {
    const last = this.lines.findLast((line) => line.text.startsWith("BATCH"));
    return last !== undefined && last.text !== "BATCH_DONE";
  }

  /** Waits for a line starting with `prefix` at or after index `from`. */
  async waitForLine(prefix: string, { from = 0, timeout = 15_000 } = {}): Promise<Line> {
    return waitFor(() => this.linesFrom(prefix, from)[0], {
      timeout,
      what: `${this.label} to print ${prefix} (${this.describe()})`,
    });
  }

  /** The job ids this process delivered to its handler, one per delivery. */
  delivered(): bigint[] {
    return readIds(this.sink);
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** Kills the process (resuming it first, in case it is stopped) and waits until it is gone. */
  async destroy(): Promise<void> {
    if (this.running) {
      this.child.kill("SIGCONT");
      this.child.kill("SIGKILL");
    }
    await this.closed;
  }

  describe(): string {
    const tail = this.lines
      .slice(-8)
      .map((line) => line.text)
      .join(" | ");
    return `pid ${this.pid}; last lines: ${tail}; stderr: ${this.#stderr.slice(-2000)}`;
  }
}

export function readIds(file: string): bigint[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return text
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => BigInt(line));
}
