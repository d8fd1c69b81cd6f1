// A headless Chromium for the dashboard's browser tests: Debian's package (/usr/bin/chromium,
// installed by .ci/run), driven by playwright-core, which downloads no browser of its own.
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const chromiumPath = process.env.POUTBOX_CHROMIUM ?? "/usr/bin/chromium";

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `no Chromium at ${chromiumPath}: install Debian's (apt-get install -y chromium, as .ci/run does) or set POUTBOX_CHROMIUM`,
    );
  }
  return chromium.launch({ executablePath: chromiumPath, args: ["--headless", "--no-sandbox"] });
}
