import type { Browser } from 'playwright-core';

/** Debian's Chromium, the only browser the tests and screenshots use. */
export declare const CHROMIUM: string;
/** A headless Chromium with networking it does not need (updates, sync, QUIC) turned off. */
export declare function launchChromium(): Promise<Browser>;
