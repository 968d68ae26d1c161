// The operator's commands the fleet committed as rejected (runtime/mission/machine.ts: a command that
// fails a check is committed with its reason). Both modes count them and keep the first few for the
// report: a rejected command counts as committed, and without this only the HTML timeline said why.

/** One rejected command as the report lists it. */
export interface CommandRejection {
  readonly height: number;
  readonly type: string;
  readonly reason: string;
}

/** Rejections the report lists; the count covers all of them. */
export const rejectionsListed = 20;
/** A reason is cut here in the report (a machine's reason can quote a command's arguments). */
const reasonCharsMax = 240;

export class CommandRejections {
  count = 0;
  readonly first: CommandRejection[] = [];

  note(height: number, type: string, reason: string): void {
    this.count++;
    if (this.first.length < rejectionsListed) this.first.push({ height, type, reason: reason.length > reasonCharsMax ? `${reason.slice(0, reasonCharsMax - 1)}…` : reason });
  }
}

/** The summary's words for them: " (2 rejected: foo.bar: unknown command type "foo.bar", ...)", or ''
 *  with none. Each distinct reason once, up to its first clause, three at most. */
export function rejectedText(commandsRejected: number | undefined, rejections: readonly CommandRejection[] | undefined): string {
  if (!commandsRejected) return '';
  const said = [...new Set((rejections ?? []).map((r) => `${r.type}: ${r.reason.split('; ')[0] ?? ''}`))];
  const more = said.length > 3 || commandsRejected > (rejections?.length ?? 0);
  return ` (${commandsRejected} rejected${said.length > 0 ? `: ${said.slice(0, 3).join(', ')}${more ? ', ...' : ''}` : ''})`;
}
