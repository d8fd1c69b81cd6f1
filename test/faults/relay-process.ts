import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** What the run stops and kills at its end, besides its consumer processes. */
export interface ChildLike {
  readonly closed: Promise<void>;
  signal(signal: NodeJS.Signals): void;
  destroy(): Promise<void>;
  describe(): string;
}

/**
 * `poutbox relay ...` from the sources (the command an operator runs), as a child process
 * that a scenario can SIGKILL; its stderr is kept for the report.
 */
export class RelayProcess implements ChildLike {
  readonly label: string;
  readonly child: ChildProcess;
  readonly closed: Promise<void>;
  #stderr = "";

  constructor(label: string, args: readonly string[]) {
    this.label = label;
    this.child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "relay", ...args], {
      cwd: root,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    this.child.stderr?.on("data", (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
    this.closed = new Promise((resolve) => {
      this.child.once("close", () => resolve());
      this.child.once("error", () => resolve());
    });
  }

  /** What it wrote on stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  async destroy(): Promise<void> {
    this.signal("SIGKILL");
    await this.closed;
  }

  describe(): string {
    return `relay ${this.label} (pid ${this.child.pid}, exit ${this.child.exitCode ?? this.child.signalCode}): ${this.#stderr.slice(-1500)}`;
  }
}
