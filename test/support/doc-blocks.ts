/**
 * Shell examples taken from a Markdown file, so that a test can run them as they stand
 * (test/e2e/readme.test.ts runs README.md's first steps).
 */

export interface ShellBlock {
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  /** Why the block is not run, from a `<!-- not run by tests: why -->` line just above its fence. */
  skip: string | null;
}

/** The ```sh blocks under the `## heading` (up to the next `## ` heading), in order. */
export function shellBlocks(markdown: string, heading: string): ShellBlock[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${heading}`);
  if (start < 0) throw new Error(`no "## ${heading}" heading`);
  const blocks: ShellBlock[] = [];
  for (let i = start + 1; i < lines.length && !/^## /.test(lines[i]!); i++) {
    if (lines[i]!.trim() !== '```sh') continue;
    const open = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i]!.trim() !== '```'; i++) body.push(lines[i]!);
    if (i >= lines.length) throw new Error(`the block at line ${open + 1} is not closed`);
    let above = open - 1;
    while (above > start && lines[above]!.trim() === '') above--;
    const skip = /^<!--\s*not run by tests:\s*(.+?)\s*-->$/.exec(lines[above]!.trim());
    blocks.push({ line: open + 1, code: body.join('\n'), skip: skip ? skip[1]! : null });
  }
  return blocks;
}
