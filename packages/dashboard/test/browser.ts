// The one Chromium launch, shared with the README's screenshots (demo/screenshots.mjs).
export { CHROMIUM, launchChromium } from '../demo/chromium.mjs';
