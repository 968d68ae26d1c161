// deploy/build.ts on a tiny project: a clean build lands whole (code, assets, BUILD.json); a type error or a
// missing entry point fails loudly and leaves the previous dist/ exactly as it was.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, BuildError } from '../../deploy/build.js';
import { repoRoot } from './fixture-bundle.js';

let project: string;

const write = (rel: string, text: string): void => {
  mkdirSync(dirname(join(project, rel)), { recursive: true });
  writeFileSync(join(project, rel), text);
};

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'murmur-build-'));
  symlinkSync(join(repoRoot, 'node_modules'), join(project, 'node_modules'));
  write('package.json', JSON.stringify({ name: 'tiny', version: '1.2.3', type: 'module' }));
  write('tsconfig.build.json', JSON.stringify({
    compilerOptions: { target: 'ES2023', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmitOnError: true, rootDir: '.', types: [], skipLibCheck: true },
    include: ['runtime', 'fleet-sim'],
    exclude: ['**/*.test.ts'],
  }));
  write('runtime/cli/murmur.ts', "import { answer } from '../lib/answer.js';\nexport const out: number = answer();\n");
  write('runtime/cli/murmurctl.ts', 'export const ctl = 1;\n');
  write('fleet-sim/cli/fleet-sim.ts', 'export const sim = 1;\n');
  write('runtime/lib/answer.ts', 'export function answer(): number {\n  return 42;\n}\n');
  write('runtime/lib/answer.test.ts', 'export const notShipped = 1;\n');
  write('fleet-sim/scenarios/demo.yaml', 'name: demo\n');
});

afterAll(() => {
  rmSync(project, { recursive: true, force: true });
});

describe('npm run build', () => {
  it('compiles to dist/ with the assets beside the code and a BUILD.json', () => {
    const r = build(project);
    expect(r.info.version).toBe('1.2.3');
    expect(readFileSync(join(project, 'dist/runtime/lib/answer.js'), 'utf8')).toContain('return 42');
    expect(readFileSync(join(project, 'dist/fleet-sim/scenarios/demo.yaml'), 'utf8')).toBe('name: demo\n');
    expect(existsSync(join(project, 'dist/runtime/lib/answer.test.js'))).toBe(false);
    expect(JSON.parse(readFileSync(join(project, 'dist/BUILD.json'), 'utf8'))).toMatchObject({ name: 'tiny', version: '1.2.3' });
  });

  it('fails loudly on a type error, naming it, and leaves the last good dist/ untouched', () => {
    build(project);
    const good = readFileSync(join(project, 'dist/runtime/lib/answer.js'), 'utf8');
    write('runtime/lib/answer.ts', "export function answer(): number {\n  return 'forty-two';\n}\n");
    try {
      const failure = (() => {
        try {
          build(project);
          return undefined;
        } catch (e) {
          return e;
        }
      })();
      expect(failure).toBeInstanceOf(BuildError);
      expect((failure as BuildError).message).toMatch(/runtime\/lib\/answer\.ts\(2,3\): error TS2322[\s\S]*tsc reported 1 type error\(s\); dist\/ was left unchanged/);
      expect(readFileSync(join(project, 'dist/runtime/lib/answer.js'), 'utf8')).toBe(good);
      expect(readdirSync(join(project, '.murmur-tmp'))).toEqual([]); // the scratch build is gone too
    } finally {
      write('runtime/lib/answer.ts', 'export function answer(): number {\n  return 42;\n}\n');
    }
  });

  it('refuses a build that lacks one of the CLIs bin/*.js launch', () => {
    rmSync(join(project, 'runtime/cli/murmurctl.ts'));
    try {
      expect(() => build(project)).toThrow(/runtime\/cli\/murmurctl\.js is missing from the compiler output/);
    } finally {
      write('runtime/cli/murmurctl.ts', 'export const ctl = 1;\n');
    }
  });
});
