import { describe, expect, test } from '@jest/globals';
import { archiveFileName, uniqueArchiveFileNames } from '../src/archive/archive-names.js';

const digest = (c: string) => `sha256:${c.repeat(64)}`;

describe('--archive-dir file names', () => {
  test('safe characters only, tag and short digest as written', () => {
    expect(archiveFileName('ghcr.io/planktoscope/segmenter:v2.4', digest('a'))).toBe(
      'ghcr.io_planktoscope_segmenter_v2.4.tar',
    );
    expect(archiveFileName(`alpine@${digest('b')}`, digest('a'))).toBe('alpine_bbbbbbbbbbbb.tar');
  });

  test('names that differ only in case stay apart, as case-insensitive file systems need', () => {
    const names = uniqueArchiveFileNames([
      { reference: 'Registry.Example/team/app:3', digest: digest('1') },
      { reference: 'registry.example/team/app:3', digest: digest('2') },
      { reference: 'registry.example/team/app:V3', digest: digest('3') },
      { reference: 'registry.example/team/app:v3', digest: digest('4') },
    ]);
    expect(names).toEqual([
      'Registry.Example_team_app_3.tar',
      'registry.example_team_app_3_222222222222.tar',
      'registry.example_team_app_V3.tar',
      'registry.example_team_app_v3_444444444444.tar',
    ]);
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(names.length);
  });

  test('references the sanitiser maps to one name stay apart', () => {
    const names = uniqueArchiveFileNames([
      { reference: 'registry.example/a/b:1', digest: digest('1') },
      { reference: 'registry.example/a_b:1', digest: digest('2') },
      { reference: 'registry.example:5000/x:1', digest: digest('3') },
      { reference: 'registry.example/5000_x:1', digest: digest('4') },
    ]);
    expect(names).toEqual([
      'registry.example_a_b_1.tar',
      'registry.example_a_b_1_222222222222.tar',
      'registry.example_5000_x_1.tar',
      'registry.example_5000_x_1_444444444444.tar',
    ]);
  });

  test('a suffix that is itself taken gets a counter; long names are cut below file-system limits', () => {
    const names = uniqueArchiveFileNames([
      { reference: 'r.example/a:1', digest: digest('1') },
      { reference: 'r.example/a:1_111111111111', digest: digest('2') },
      { reference: 'R.example/a:1', digest: digest('1') },
    ]);
    expect(names).toEqual([
      'r.example_a_1.tar',
      'r.example_a_1_111111111111.tar',
      'R.example_a_1_111111111111_1.tar',
    ]);
    const long = archiveFileName(`r.example/${'n'.repeat(200)}:${'t'.repeat(120)}`, digest('c'));
    expect(long.length).toBeLessThanOrEqual(255);
    expect(long).toMatch(/_cccccccccccc\.tar$/);
  });
});
