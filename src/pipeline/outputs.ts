import { refuseInsideLayout, type OutputPath } from '../layout/layout-paths.js';
import { checkWritable, checkWritableFile } from '../util/fs.js';

/** The files and folders a run will write besides the layout. */
export interface Outputs {
  archive?: string;
  archiveDir?: string;
  reportFile?: string;
  /** The image store tarball. */
  imageStore?: string;
}

/**
 * Before anything is downloaded or written: no output may lie inside the layout (an archive
 * over index.json destroys it), and (before a download) the layout and every output must be
 * writable, so a run fails at once rather than after a long download.
 */
export async function prepareOutputs(
  layoutDir: string,
  outputs: Outputs,
  options: { checkWritable: boolean } = { checkWritable: true },
): Promise<void> {
  const named = (path: string | undefined, what: string, option: string): OutputPath[] =>
    path ? [{ path, what, option }] : [];
  const files = [
    ...named(outputs.archive, 'archive file', 'archive'),
    ...named(outputs.reportFile, 'report file', 'report'),
    ...named(outputs.imageStore, 'image store', 'output'),
  ];
  const folders = named(outputs.archiveDir, 'archive folder', 'archive-dir');
  await refuseInsideLayout(layoutDir, [...files, ...folders]);
  if (!options.checkWritable) return;
  await checkWritable(layoutDir);
  for (const f of files) await checkWritableFile(f.path);
  for (const f of folders) await checkWritable(f.path);
}
