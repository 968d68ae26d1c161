// Runs a CLI from its TypeScript source in a clone (through tsx) or from dist/ in a built bundle.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export async function launch(relativeEntry) {
  const source = new URL(`../${relativeEntry}.ts`, import.meta.url);
  if (existsSync(fileURLToPath(source))) {
    const { register } = await import('tsx/esm/api');
    register();
    await import(source.href);
    return;
  }
  await import(new URL(`../dist/${relativeEntry}.js`, import.meta.url).href);
}
