// The device targets a bundle can be built for: npm's os/cpu names, the prebuild folder names native
// packages use, and the ELF machine every native binary in the bundle must carry.

export interface Target {
  readonly name: TargetName;
  readonly os: 'linux';
  readonly cpu: 'arm64' | 'x64';
  /** ELF e_machine (System V gABI, "Machine Information"): EM_AARCH64 = 183, EM_X86_64 = 62. */
  readonly elfMachine: number;
  /** What `uname -m` prints on such a device; install.sh refuses a bundle for another machine. */
  readonly unameMachine: string;
}

export type TargetName = 'linux-arm64' | 'linux-x64';

export const elfMachineNames: Readonly<Record<number, string>> = {
  3: 'x86 (EM_386)',
  8: 'MIPS (EM_MIPS)',
  40: 'ARM 32-bit (EM_ARM)',
  62: 'x86-64 (EM_X86_64)',
  183: 'AArch64 (EM_AARCH64)',
  243: 'RISC-V (EM_RISCV)',
};

export const targets: Readonly<Record<TargetName, Target>> = {
  'linux-arm64': { name: 'linux-arm64', os: 'linux', cpu: 'arm64', elfMachine: 183, unameMachine: 'aarch64' },
  'linux-x64': { name: 'linux-x64', os: 'linux', cpu: 'x64', elfMachine: 62, unameMachine: 'x86_64' },
};

export function isTargetName(s: string): s is TargetName {
  return Object.hasOwn(targets, s);
}

export function describeMachine(machine: number): string {
  return elfMachineNames[machine] ?? `unknown machine ${machine}`;
}
