import { createInterface } from "node:readline";
import { DeclinedError } from "./cli-errors.js";

/**
 * Asks a yes/no question on stderr and reads the answer from stdin. Only `y` or `yes` goes
 * on; anything else, an empty line, or the end of stdin (no terminal, as in CI) declines, so
 * a destructive command never runs unattended without --yes.
 */
export async function confirm(question: string): Promise<void> {
  const lines = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY });
  try {
    const answer = await new Promise<string | undefined>((resolve) => {
      lines.once("close", () => resolve(undefined));
      // Ctrl-C at the prompt: a terminal in raw mode delivers it here, not as a signal.
      lines.once("SIGINT", () => lines.close());
      lines.question(`${question} [y/N] `, resolve);
    });
    if (answer === undefined) process.stderr.write("\n");
    if (!/^\s*(y|yes)\s*$/i.test(answer ?? "")) throw new DeclinedError("not confirmed: nothing was changed");
  } finally {
    lines.close();
  }
}
