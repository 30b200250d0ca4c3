import { launchChromium } from './testing/browser.ts';
const base = process.env.BASE!;
const browser = await launchChromium({ webgpu: process.env.WEBGPU === '1' });
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
page.on('console', (m) => console.log('console:', m.type(), m.text().slice(0, 300)));
page.on('pageerror', (e) => console.log('pageerror:', e.message));
const saes = await (await fetch(`${base}/api/saes`)).json();
const sae = saes.saes[0].id;
const t0 = Date.now();
await page.goto(`${base}${process.env.PATHQ ?? `/inspector?sae=${sae}`}${process.env.Q ?? ''}`.replace('SAE', sae));
if (!process.env.PATHQ) {
  await page.getByTestId('token-row').first().waitFor({ timeout: 180_000 });
  console.log('ready after', Date.now() - t0, 'ms');
  console.log(await page.getByTestId('engine-card').innerText());
  if (process.env.RETYPE) {
    const t1 = Date.now();
    await page.getByTestId('inspector-text').fill('A second text, with other words in it.');
    await page.waitForFunction(() => !document.querySelector('[data-testid=latency]')?.textContent?.includes('26 tokens'), null, { timeout: 120000 });
    console.log('second run after', Date.now() - t1);
    console.log(await page.getByTestId('latency').innerText());
  }
} else {
  await page.waitForTimeout(Number(process.env.WAIT ?? 20000));
}
await page.screenshot({ path: '/tmp/inspector.png', fullPage: true });
await browser.close();
