// The errno codes an operator's path can cause, in words (the CLIs' messages and the key files').

/** Why an fs call failed, in words: the errno codes an operator's path can cause. */
export function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a directory';
    case 'EISDIR':
      return 'it is a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'ELOOP':
      return 'a symbolic link that leads back to itself';
    case 'ENAMETOOLONG':
      return 'the name is too long';
    default:
      return code ?? (e as Error).message;
  }
}
