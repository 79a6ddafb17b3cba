/**
 * Headless Chromium for tests (Debian's, /usr/bin/chromium, installed as a peer), driven by
 * playwright-core. One browser per test file, a fresh profile directory in the test's temp dir,
 * no network beyond what the page asks of loopback; stopped by close() in after().
 */
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { tempDir } from './paths.js';
import { requirePeer } from '../../support/peers.js';

/** The flags every test browser runs with: nothing it does reaches outside this machine. */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Start Chromium with a fresh profile (its --user-data-dir); close the context to stop it. */
export async function startBrowser(): Promise<{ context: BrowserContext; profile: string }> {
  const executablePath = requirePeer('chromium');
  const profile = join(tempDir('ocikit-chromium-'), 'profile');
  const context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: FLAGS, viewport: { width: 1280, height: 900 } });
  return { context, profile };
}
