// A node:test reporter that test/run.ts adds beside the spec reporter: one JSON line per test
// or suite that ended, from which the runner says at the end what was skipped, and why, and
// which tests were the slowest. Plain JavaScript: Node 20 loads reporters before the --import
// hooks that would let it load TypeScript.
//
// Each line: { name, file, suite, skip (the reason, true when none was given, absent when it
// ran), ms }.
export default async function* summaryReporter(source) {
  for await (const { type, data } of source) {
    if (type !== "test:pass" && type !== "test:fail") continue;
    yield `${JSON.stringify({
      name: data.name,
      file: data.file,
      suite: data.details?.type === "suite",
      skip: data.skip === false ? undefined : data.skip,
      ms: data.details?.duration_ms ?? 0,
    })}\n`;
  }
}
