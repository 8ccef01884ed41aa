import { spawn, spawnSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { Duplex, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { UserError } from '../util/errors.js';

export type LayerCodec = 'gzip' | 'zstd' | 'none';

/** A layer's compression from its first (up to 4) bytes, as `docker load` tells it. */
export function codecOf(magic: Buffer): LayerCodec {
  if (magic.length >= 2 && magic[0] === 0x1f && magic[1] === 0x8b) return 'gzip';
  if (magic.length >= 4 && magic.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** Detects a layer file's compression from its first bytes. */
export async function detectCodec(path: string): Promise<LayerCodec> {
  const fh = await open(path, 'r');
  try {
    const magic = Buffer.alloc(4);
    const { bytesRead } = await fh.read(magic, 0, 4, 0);
    return codecOf(magic.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

type ZstdFactory = (options?: object) => Transform;

let zstdCommand: boolean | undefined;

/** The `zstd` command as a stream, for Node versions without zlib's zstd (before 22.15). */
function zstdProcess(layer: string): Duplex {
  const child = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const duplex = Duplex.from({ writable: child.stdin, readable: child.stdout });
  child.on('exit', (code) => {
    if (code) duplex.destroy(new UserError(`layer ${layer}: zstd could not decompress it: ${stderr.trim()}`));
  });
  return duplex;
}

/** A streaming decompressor for the codec, or undefined for an uncompressed layer. */
export function decompressor(codec: LayerCodec, layer: string): Duplex | undefined {
  if (codec === 'gzip') return zlib.createGunzip({ chunkSize: 1 << 20 });
  if (codec === 'zstd') {
    const create = (zlib as unknown as { createZstdDecompress?: ZstdFactory }).createZstdDecompress;
    if (create) return create();
    zstdCommand ??= spawnSync('zstd', ['--version'], { stdio: 'ignore' }).status === 0;
    if (zstdCommand) return zstdProcess(layer);
    throw new UserError(
      `layer ${layer} is zstd-compressed and this Node.js (${process.version}) cannot decompress zstd: install the zstd command, run on Node 22.15 or newer (the action runs on Node 24), or use --layer-compression keep`,
    );
  }
  return undefined;
}
