// Prints the JSON lines of `npm run -s bench -- --json` as a Markdown table, the form
// docs/benchmarks.md keeps: `npx tsx bench/markdown.ts run.jsonl`.
import { readFileSync } from "node:fs";
import { type Row, toMarkdown } from "./report.js";

const [file] = process.argv.slice(2);
if (!file) {
  console.error("usage: npx tsx bench/markdown.ts <file of JSON lines>");
  process.exit(2);
}
const rows = readFileSync(file, "utf8")
  .split("\n")
  .filter((line) => line.startsWith("{"))
  .map((line) => JSON.parse(line) as Row);
console.log(toMarkdown(rows));
