// A real Chromium for the console's tests: Debian's build (`scripts/setup.sh --browser`
// installs it when missing), driven by playwright-core, which brings no browser itself.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run scripts/setup.sh (it installs Debian's chromium)`);
  // --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/**
 * A page that records what must never happen: a JavaScript dialog (alert, confirm,
 * prompt), an uncaught error, a Content-Security-Policy violation; and every URL it asked for.
 */
export async function watchedPage(context) {
  const page = await context.newPage();
  const record = { dialogs: [], errors: [], cspViolations: [], urls: [] };
  page.on('dialog', async (dialog) => {
    record.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    await dialog.dismiss().catch(() => {});
  });
  page.on('pageerror', (error) => record.errors.push(error.message));
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) record.cspViolations.push(message.text());
  });
  page.on('request', (request) => record.urls.push(request.url()));
  return { page, record };
}

/** Whether the page scrolls sideways (a layout wider than the viewport). */
export function scrollsSideways(page) {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth
    || document.body.scrollWidth > document.documentElement.clientWidth);
}
