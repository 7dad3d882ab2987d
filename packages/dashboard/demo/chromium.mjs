// Debian's Chromium (`apt-get install chromium`), launched headless the same way by the browser tests
// (test/browser.ts) and the README's screenshots (demo/screenshots.mjs). Playwright's own browser
// downloads are never used.
import { chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** A headless Chromium with networking it does not need (updates, sync, QUIC) turned off. */
export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
