/**
 * Loads the web chat's single page: page.html with page.css, page-cards.js and
 * page-app.js inlined, so the page needs no CDN, framework or build step and
 * runs under a strict Content-Security-Policy whose per-response nonce is the
 * only way a script or style runs. The browser code lives in plain files so it
 * reads (and lints) as what it is.
 */
import { readFile } from 'node:fs/promises';

interface PageAssets {
  html: string;
  css: string;
  js: string;
}

let assets: Promise<PageAssets> | null = null;

function asset(name: string): Promise<string> {
  return readFile(new URL(`./${name}`, import.meta.url), 'utf8');
}

async function loadAssets(): Promise<PageAssets> {
  const [html, css, cards, app] = await Promise.all(
    ['page.html', 'page.css', 'page-cards.js', 'page-app.js'].map(asset),
  );
  return { html: html!, css: css!, js: `${cards}\n${app}` };
}

/** The page with `nonce` on its one style and one script element. */
export async function renderPage(nonce: string): Promise<string> {
  assets ??= loadAssets().catch((err: unknown) => {
    assets = null;
    throw err;
  });
  const { html, css, js } = await assets;
  // Function replacers: `$&` and friends in the CSS or JS must stay literal.
  return html
    .replaceAll('{{nonce}}', () => nonce)
    .replace('{{style}}', () => css)
    .replace('{{script}}', () => js);
}
