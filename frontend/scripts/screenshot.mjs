// Visual check of the built app against a running server (dev tool, not part of the bundle).
// Usage: npm run build && python -m backend & node frontend/scripts/screenshot.mjs [base-url] [out-dir]
// Drives Debian's /usr/bin/chromium (no browser download): opens a new session as owner, trains a
// little, types into the predict box, opens the share link as a viewer, and saves screenshots.

import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const base = process.argv[2] ?? "http://127.0.0.1:5000";
const out = process.argv[3] ?? "/tmp/rnn-playground-shots";
const trainSeconds = Number(process.env.TRAIN_SECONDS ?? 8);
mkdirSync(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});

async function open(url, width, height, locale = "en-US") {
  const context = await browser.newContext({ viewport: { width, height }, locale });
  const page = await context.newPage();
  page.on("console", (msg) => msg.type() === "error" && console.error("[page]", msg.text()));
  page.on("pageerror", (err) => console.error("[page error]", err.message));
  await page.goto(url);
  return page;
}

const shot = (page, name) => page.screenshot({ path: `${out}/${name}.png` });
const byId = (page, id) => page.getByTestId(id);

try {
  const owner = await open(`${base}/`, 1366, 768);
  await owner.waitForURL(/\/s\/[\w-]+\?t=[\w-]+$/);
  await byId(owner, "train-button").waitFor();
  await shot(owner, "01-owner-fresh");

  await byId(owner, "train-button").click();
  await owner.waitForSelector('[data-testid=status][data-status="running"]');
  await owner.waitForTimeout(trainSeconds * 1000);
  await byId(owner, "predict-input").pressSequentially("The quick brown fox ", { delay: 40 });
  await owner.waitForTimeout(800);
  await shot(owner, "02-owner-training");

  await byId(owner, "share-button").click();
  const viewUrl = await byId(owner, "share-url").inputValue();
  await shot(owner, "03-owner-share");
  console.log("owner:", owner.url(), "\nviewer:", viewUrl);

  const viewer = await open(viewUrl, 1920, 1080, "fr-FR");
  await viewer.waitForSelector('[data-testid=role-badge][data-role="viewer"]');
  await byId(viewer, "predict-input").pressSequentially("Bonjour à tous", { delay: 40 });
  await viewer.waitForTimeout(1500);
  await shot(viewer, "04-viewer-projector-fr");

  await byId(owner, "pause-button").click();
  await owner.waitForSelector('[data-testid=status][data-status="paused"]');
  await byId(owner, "setting-hidden_size").fill("9999");
  await byId(owner, "setting-hidden_size").press("Enter");
  await owner.waitForTimeout(300);
  await shot(owner, "05-owner-paused-invalid");
} finally {
  await browser.close();
}
