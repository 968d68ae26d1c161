// The HTML report: the dashboard page itself with its CSS, its scripts and the run's recording inlined,
// so one file opens offline anywhere and shows the same map, charts and timeline, with a replay control.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assert } from '../../runtime/lib/assert.js';
import { staticDir, staticFiles } from '../dashboard/server.js';
import type { Recording } from './recorder.js';

function readStatic(name: string): string {
  return readFileSync(join(staticDir, name), 'utf8');
}

/** JSON safe inside a <script> element: no "</script>", no "<!--", and no U+2028/2029 surprises. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function between(html: string, open: string, close: string, replacement: string): string {
  const a = html.indexOf(open);
  const b = html.indexOf(close);
  assert(a >= 0 && b > a, `dashboard index.html lacks the ${open} ... ${close} markers`);
  return html.slice(0, a) + replacement + html.slice(b + close.length);
}

export function renderReportHtml(recording: Recording, title: string): string {
  let html = readStatic('index.html');
  const css = staticFiles.styles.map(readStatic).join('\n');
  html = between(html, '<!--STYLE-->', '<!--/STYLE-->', `<style>\n${css}\n</style>`);
  const scripts = staticFiles.scripts.map((name) => {
    const js = readStatic(name);
    // Our own files; this guards against an edit that would end the inline element early.
    assert(!/<\/script/i.test(js), `dashboard ${name} contains "</script"`);
    return `<script>\n${js}\n</script>`;
  });
  const data = `<script id="recording" type="application/json">${jsonForScript(recording)}</script>`;
  html = between(html, '<!--SCRIPTS-->', '<!--/SCRIPTS-->', [data, ...scripts].join('\n'));
  const safeTitle = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return html.replace('<title>Murmur fleet-sim</title>', `<title>${safeTitle} · Murmur fleet-sim report</title>`);
}
