import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import {
  espeakVoiceArg, failLine, isSilent, matchName, parseEspeakLanguages, parseEspeakVariants, parseSoxStat, promptMediaUri,
  sln16DurationMs, soxConvertArgs, soxReason, ttsKey, uploadFormat,
} from '../../src/prompts/media.js';
import { PROMPT_NAME } from '../../src/prompts/service.js';

const VOICES = `Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  af              --/M      Afrikaans          gmw/af
 5  de              --/M      German             gmw/de
 5  en-029          --/M      English_(Caribbean) gmw/en-029           (en 10)
 2  en-gb           --/M      English_(Great_Britain) gmw/en               (en 2)
 5  en-gb-x-gbclan  --/M      English_(Lancaster) gmw/en-GB-x-gbclan   (en-gb 3)(en 5)
 2  en-us           --/M      English_(America)  gmw/en-US            (en 3)
 5  es-419          --/M      Spanish_(Latin_America) roa/es-419           (es-mx 6)(es 6)
 5  fr-fr           --/M      French_(France)    roa/fr               (fr 5)
 5  cmn             --/M      Chinese_(Mandarin,_latin_as_English) sit/cmn              (zh-cmn 5)(zh 5)
`;

const VARIANTS = `Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  variant         --/M      Alex               !v/Alex
 5  variant         --/F      female3            !v/f3
 5  variant         --/M      klatt              !v/klatt
 5  variant         --/M      Mr_Serious         !v/Mr
`;

const STAT = `Samples read:             12121
Length (seconds):      1.515125
Scaled by:         2147483647.0
Maximum amplitude:     0.670410
Minimum amplitude:    -0.672333
Midline amplitude:    -0.000961
RMS     amplitude:     0.474042
`;

describe('upload content types', () => {
  it.each([
    ['audio/wav', 'wav'],
    ['audio/x-wav', 'wav'],
    ['Audio/WAV; charset=binary', 'wav'],
    ['audio/mpeg', 'mp3'],
    ['audio/ogg', null],
    ['application/octet-stream', null],
    [undefined, null],
  ])('%s -> %s', (type, format) => {
    expect(uploadFormat(type)).toBe(format);
  });
});

describe('names, keys, URIs', () => {
  it('media URI has no extension and no doubled slash', () => {
    expect(promptMediaUri('/var/lib/pbx/prompts', 'abc')).toBe('sound:/var/lib/pbx/prompts/abc');
    expect(promptMediaUri('/chroot/prompts/', 'abc')).toBe('sound:/chroot/prompts/abc');
  });

  it('the TTS key depends on text, language and voice only', () => {
    const a = ttsKey('Hello', 'en', null);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(ttsKey('Hello', 'en', null)).toBe(a);
    expect(ttsKey('Hello', 'en', 'f3')).not.toBe(a);
    expect(ttsKey('Hello', 'fr', null)).not.toBe(a);
    expect(ttsKey('Hello.', 'en', null)).not.toBe(a);
    // no ambiguity from joining the parts
    expect(ttsKey('a', 'b c', null)).not.toBe(ttsKey('a b', 'c', null));
  });

  it('prompt names: letters, digits, space, _ . -, 1 to 64', () => {
    for (const ok of ['welcome', 'Main menu 2', 'after-hours_v1.0', 'x'.repeat(64)]) expect(PROMPT_NAME.test(ok)).toBe(true);
    for (const bad of ['', 'x'.repeat(65), 'semi;colon', 'slash/name', 'ümlaut', 'tab\tname', 'new\nline']) expect(PROMPT_NAME.test(bad)).toBe(false);
  });

  it('sln16 plays 32 bytes per ms', () => {
    expect(sln16DurationMs(32_000)).toBe(1000);
    expect(sln16DurationMs(31)).toBe(0);
  });
});

describe('sox', () => {
  it('reads stat output; silence is a peak under -60 dBFS', () => {
    const s = parseSoxStat(STAT);
    expect(s.lengthSeconds).toBeCloseTo(1.515125);
    expect(s.peak).toBeCloseTo(0.672333);
    expect(isSilent(s)).toBe(false);
    expect(isSilent(parseSoxStat('Maximum amplitude:     0.000031\nMinimum amplitude:    -0.000031\n'))).toBe(true);
    expect(isSilent(parseSoxStat('garbage'))).toBe(false);
    expect(parseSoxStat('garbage')).toEqual({ lengthSeconds: null, peak: null });
  });

  it('says why a file is unreadable without our file names', () => {
    const stderr = "soxi WARN mp3-util: MAD lost sync\nsoxi FAIL formats: can't open input file `/tmp/x/.work-1/upload.wav': WAVE: RIFF header not found\n";
    expect(failLine(stderr)).toMatch(/FAIL/);
    expect(soxReason(stderr)).toBe('WAVE: RIFF header not found');
    expect(soxReason("sox FAIL formats: can't open input file `upload.mp3': ")).toBe('sox found no audio it can decode');
    expect(soxReason('')).toBe('sox found no audio it can decode');
    expect(soxReason('sox FAIL trim: usage error in `input.wav\'')).toBe('usage error in the file');
  });

  it('converts to mono 16-bit signed at the rate, WAV for 8 kHz and raw for 16 kHz, cut at the limit', () => {
    expect(soxConvertArgs('in.mp3', 'out.wav', 8000, 301)).toEqual([
      '-R', '-G', '-V1', 'in.mp3', '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', 'wav', 'out.wav', 'trim', '0', '301',
    ]);
    const sln = soxConvertArgs('in.wav', 'out.sln16', 16000, 6);
    expect(sln.slice(sln.indexOf('-t'), sln.indexOf('-t') + 2)).toEqual(['-t', 'raw']);
    expect(sln).toContain('16000');
  });
});

describe('espeak-ng', () => {
  it('languages: the Language column and the other-language codes, lower case', () => {
    const langs = parseEspeakLanguages(VOICES);
    for (const l of ['af', 'de', 'en', 'en-gb', 'en-us', 'en-029', 'es', 'es-mx', 'es-419', 'fr', 'fr-fr', 'zh', 'cmn', 'en-gb-x-gbclan']) expect(langs).toContain(l);
    expect(langs).not.toContain('language');
    expect(langs).not.toContain('variant');
    expect(new Set(langs).size).toBe(langs.length);
  });

  it('variants are the file names after !v/', () => {
    expect(parseEspeakVariants(VARIANTS)).toEqual(['Alex', 'f3', 'klatt', 'Mr']);
    expect(parseEspeakVariants('')).toEqual([]);
  });

  it('matches names ignoring case and gives espeak-ng\'s spelling; builds -v', () => {
    expect(matchName(['Alex', 'f3'], 'alex')).toBe('Alex');
    expect(matchName(['Alex', 'f3'], 'F3')).toBe('f3');
    expect(matchName(['Alex'], 'bob')).toBeNull();
    expect(espeakVoiceArg('en', null)).toBe('en');
    expect(espeakVoiceArg('fr', 'f3')).toBe('fr+f3');
  });
});

describe('prompt settings', () => {
  const minimal = { PBX_ARI_USER: 'pbx', PBX_ARI_PASSWORD: 'a', PBX_AMI_USER: 'pbx', PBX_AMI_PASSWORD: 'b', PBX_SECRET_KEY: Buffer.alloc(32).toString('base64') };

  it('defaults: under the data folder, Asterisk sees the same folder, 300 s, 20 MB', () => {
    expect(loadConfig(minimal).prompts).toEqual({ dir: '/var/lib/pbx/prompts', asteriskDir: '/var/lib/pbx/prompts', maxSeconds: 300, maxBytes: 20 * 1024 * 1024 });
    expect(loadConfig({ ...minimal, PBX_DATA_DIR: '/srv/pbx/' }).prompts.dir).toBe('/srv/pbx/prompts');
  });

  it('a chrooted Asterisk sees another path', () => {
    const c = loadConfig({ ...minimal, PBX_PROMPTS_DIR: '/var/cache/root/prompts/', PBX_PROMPTS_DIR_ASTERISK: '/prompts' });
    expect(c.prompts).toMatchObject({ dir: '/var/cache/root/prompts', asteriskDir: '/prompts' });
  });

  it.each([
    ['PBX_PROMPTS_DIR', 'relative/prompts', 'absolute path'],
    ['PBX_PROMPTS_DIR_ASTERISK', '/with space', 'ARI media URIs'],
    ['PBX_PROMPTS_DIR_ASTERISK', '/a,b', 'ARI media URIs'],
    ['PBX_PROMPT_MAX_SECONDS', '0', 'between 1 and 3600'],
    ['PBX_PROMPT_MAX_BYTES', 'lots', 'whole number'],
  ])('rejects %s=%j naming it', (name, value, words) => {
    expect(() => loadConfig({ ...minimal, [name]: value })).toThrow(new RegExp(`${name}.*${words}`));
  });
});
