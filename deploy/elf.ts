// Reads the ELF identification and e_machine of native binaries, so a bundle can prove it carries
// only code for its target CPU (System V ABI, "ELF Header": e_ident[16], e_type u16, e_machine u16).

import { closeSync, openSync, readSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describeMachine, type Target } from './targets.js';

export interface ElfHeader {
  readonly bits: 32 | 64;
  readonly littleEndian: boolean;
  readonly machine: number;
}

const headerBytes = 20; // e_ident (16) + e_type (2) + e_machine (2)
const magic = [0x7f, 0x45, 0x4c, 0x46]; // "\x7fELF"

/** Parses the start of a file; undefined when it is not ELF at all. */
export function parseElfHeader(bytes: Uint8Array): ElfHeader | undefined {
  if (bytes.length < headerBytes || magic.some((b, i) => bytes[i] !== b)) return undefined;
  const bits = bytes[4] === 2 ? 64 : 32; // EI_CLASS: 1 = ELFCLASS32, 2 = ELFCLASS64
  const littleEndian = bytes[5] !== 2; // EI_DATA: 1 = ELFDATA2LSB, 2 = ELFDATA2MSB
  const lo = bytes[littleEndian ? 18 : 19] ?? 0;
  const hi = bytes[littleEndian ? 19 : 18] ?? 0;
  return { bits, littleEndian, machine: lo | (hi << 8) };
}

export function readElfHeader(path: string): ElfHeader | undefined {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(headerBytes);
    const n = readSync(fd, buf, 0, headerBytes, 0);
    return parseElfHeader(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

/** File names that are native code whatever their content says: a .dylib or .dll left in is a mismatch too. */
const nativeName = /\.(node|so|bare|dylib|dll|exe)$|\.so\.\d+(\.\d+)*$/;

export interface NativeFile {
  readonly path: string; // relative to the scanned root, with '/' separators
  readonly header: ElfHeader | undefined;
}

/** Every file under root that is ELF or is named like native code. Bounded by the tree itself (no links followed). */
export function findNativeFiles(root: string): NativeFile[] {
  const found: NativeFile[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    const header = readElfHeader(full);
    if (header !== undefined || nativeName.test(entry.name)) found.push({ path: relative(root, full).split(sep).join('/'), header });
  }
  return found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** One line per native file that would not load on the target; empty when all match. */
export function nativeMismatches(files: readonly NativeFile[], target: Target): string[] {
  const problems: string[] = [];
  for (const f of files) {
    if (f.header === undefined) problems.push(`${f.path}: not an ELF file (a binary for another operating system)`);
    else if (f.header.machine !== target.elfMachine || f.header.bits !== 64 || !f.header.littleEndian)
      problems.push(`${f.path}: ${describeMachine(f.header.machine)}, ${f.header.bits}-bit, but ${target.name} needs ${describeMachine(target.elfMachine)}`);
  }
  return problems;
}
