import { describe, expect, it } from 'vitest';
import { parseUnservedLines } from '../../src/calls/unserved-file.js';

describe('the unserved-calls spool file lines', () => {
  it('reads start and end lines as the dialplan writes them', () => {
    const { lines, skipped } = parseUnservedLines(
      'start|1795475957.250|1795475957.52|PJSIP/trunk-carrier-0000002a|4930123456|*99605\n' + 'end|1795475961.750|1795475957.52|41\n' + 'end|1795475962.000|1795475957.53|\n',
    );
    expect(skipped).toBe(0);
    expect(lines).toEqual([
      { kind: 'start', at: new Date(1795475957250), uniqueid: '1795475957.52', channel: 'PJSIP/trunk-carrier-0000002a', caller: '4930123456', dialed: '*99605' },
      { kind: 'end', at: new Date(1795475961750), uniqueid: '1795475957.52', cause: '41' },
      { kind: 'end', at: new Date(1795475962000), uniqueid: '1795475957.53', cause: '' }, // Asterisk had no cause
    ]);
  });

  it('an empty caller or dialed number is fine; anything malformed is skipped, never guessed at', () => {
    const { lines, skipped } = parseUnservedLines(
      [
        'start|1795475957|id-1|PJSIP/x-1||',
        'start|1795475957|id 2|PJSIP/x-1|1|2', // a space in the id
        'start|soon|id-3|PJSIP/x-1|1|2',
        'start|1795475957|id-4|PJSIP/x-1|1', // a field short
        "start|1795475957|id-5|PJSIP/x-1|1;drop table cdrs|2",
        'end|1795475957|id-6|4100',
        'stop|1795475957|id-7|16',
        '',
      ].join('\n'),
    );
    expect(lines.map((l) => l.uniqueid)).toEqual(['id-1']);
    expect(skipped).toBe(6);
  });
});
