/**
 * What the fakes check of an uploaded picture: that the bytes decode as a PNG
 * of the size its header claims (www.w3.org/TR/png-3: the 8-byte signature,
 * chunks of length, type, data and CRC-32, IHDR first, the image in IDAT
 * chunks, IEND last). The pixels are inflated and counted, so a truncated or
 * corrupted file is caught, not only one with a wrong signature.
 */
import { crc32, inflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Samples per pixel by colour type (png-3 §6.1 / table 8). */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export interface PngSize {
  width: number;
  height: number;
}

/** Width and height when `bytes` is a whole, valid PNG; null otherwise. */
export function decodePng(bytes: Buffer): PngSize | null {
  if (bytes.length < 8 || !bytes.subarray(0, 8).equals(SIGNATURE)) return null;
  const chunks = readChunks(bytes.subarray(8));
  if (!chunks || chunks[0]?.type !== 'IHDR' || chunks.at(-1)?.type !== 'IEND') return null;
  const ihdr = chunks[0].data;
  if (ihdr.length !== 13) return null;
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const [depth, colour, , , interlace] = [ihdr[8]!, ihdr[9]!, ihdr[10], ihdr[11], ihdr[12]];
  const channels = CHANNELS[colour];
  // Adam7 interlacing changes the row layout; our charts are never interlaced, so it is refused rather than half-checked.
  if (!channels || width === 0 || height === 0 || interlace !== 0) return null;
  let pixels: Buffer;
  try {
    pixels = inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  } catch {
    return null;
  }
  // Each row: one filter byte, then width × channels × depth bits, rounded up to bytes.
  const rowBytes = 1 + Math.ceil((width * channels * depth) / 8);
  return pixels.length === rowBytes * height ? { width, height } : null;
}

function readChunks(rest: Buffer): { type: string; data: Buffer }[] | null {
  const chunks: { type: string; data: Buffer }[] = [];
  let at = 0;
  while (at < rest.length) {
    if (at + 12 > rest.length) return null;
    const length = rest.readUInt32BE(at);
    if (at + 12 + length > rest.length) return null;
    const typeAndData = rest.subarray(at + 4, at + 8 + length);
    if (crc32(typeAndData) !== rest.readUInt32BE(at + 8 + length)) return null;
    chunks.push({ type: typeAndData.subarray(0, 4).toString('latin1'), data: typeAndData.subarray(4) });
    at += 12 + length;
  }
  return chunks;
}
